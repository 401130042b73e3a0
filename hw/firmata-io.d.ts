// firmata-io ships no types. Its export is a function binding a default
// transport, with the Firmata class on it; we always pass our own transport.
declare module 'firmata-io' {
  import type { EventEmitter } from 'node:events'
  interface FirmataOptions {
    reportVersionTimeout?: number
    samplingInterval?: number
    skipCapabilities?: boolean
  }
  interface FirmataConstructor {
    new (transport: EventEmitter, options?: FirmataOptions): EventEmitter
  }
  interface BindTransport {
    (transport: unknown): FirmataConstructor
    Firmata: FirmataConstructor
  }
  const bindTransport: BindTransport
  export default bindTransport
}
