/**
 * A simulated StandardFirmata board (Uno-like: 14 digital + 6 analog pins),
 * so tests drive the real firmata-io + serialport 13 path. It answers the
 * handshake (version, firmware, capabilities, analog mapping) and tracks the
 * pin levels the host writes with DIGITAL_MESSAGE. The device is transport-
 * free; it sits on the far end of a MockBinding port here, or of a real
 * pseudo-terminal (hw-station-sim.ts).
 */
import type { SerialBinding } from '../../hw/serial-port.js'
import { MockBinding } from './hw-sdm-sim.js'
import { PullableCable } from './hw-cable.js'

const PINS = 20
const ANALOG_FROM = 14

export function handshake(): Buffer {
  const name = Buffer.from('StandardFirmata.ino')
  const nameBytes = [...name].flatMap((c) => [c & 0x7f, (c >> 7) & 0x7f])
  return Buffer.from([0xf9, 2, 5, 0xf0, 0x79, 2, 5, ...nameBytes, 0xf7])
}

function capabilities(): Buffer {
  const bytes = [0xf0, 0x6c]
  for (let pin = 0; pin < PINS; pin++) {
    bytes.push(0x00, 1, 0x01, 1) // INPUT, OUTPUT
    if (pin >= ANALOG_FROM) bytes.push(0x02, 10) // ANALOG
    bytes.push(0x7f)
  }
  bytes.push(0xf7)
  return Buffer.from(bytes)
}

function analogMapping(): Buffer {
  const bytes = [0xf0, 0x6a]
  for (let pin = 0; pin < PINS; pin++) bytes.push(pin >= ANALOG_FROM ? pin - ANALOG_FROM : 0x7f)
  bytes.push(0xf7)
  return Buffer.from(bytes)
}

/** The board's firmware: bytes in from the host, replies out through `send`. */
export class FirmataDevice {
  readonly levels = new Map<number, number>()
  readonly #send: (b: Buffer) => void
  readonly #writeListeners = new Set<(pin: number, level: number) => void>()
  #rx: number[] = []

  constructor(send: (b: Buffer) => void) {
    this.#send = send
  }

  /** Hear every digital write, per pin whose level the host set (changed or not). */
  onWrite(listener: (pin: number, level: number) => void): () => void {
    this.#writeListeners.add(listener)
    return () => this.#writeListeners.delete(listener)
  }

  #set(pin: number, level: number): void {
    this.levels.set(pin, level)
    for (const l of this.#writeListeners) l(pin, level)
  }

  receive(bytes: Buffer): void {
    this.#rx.push(...bytes)
    for (;;) {
      const rx = this.#rx
      const first = rx[0]
      if (first === undefined) return
      if (first === 0xf0) {
        const end = rx.indexOf(0xf7)
        if (end < 0) return
        const cmd = rx[1]
        if (cmd === 0x6b) this.#send(capabilities())
        if (cmd === 0x69) this.#send(analogMapping())
        if (cmd === 0x79) this.#send(handshake().subarray(3))
        this.#rx = rx.slice(end + 1)
      } else if ((first & 0xf0) === 0x90) {
        if (rx.length < 3) return
        const port = first & 0x0f
        const mask = (rx[1] ?? 0) | ((rx[2] ?? 0) << 7)
        const before = new Map(this.levels)
        for (let bit = 0; bit < 8; bit++) {
          const pin = port * 8 + bit
          const level = (mask >> bit) & 1
          // A port message carries all 8 pins; report only the ones it changed, or that were never set.
          if (before.get(pin) !== level) this.#set(pin, level)
        }
        this.#rx = rx.slice(3)
      } else if (first === 0xf4 || first === 0xf5 || (first & 0xf0) === 0xe0) {
        if (rx.length < 3) return
        if (first === 0xf5) this.#set(rx[1] ?? 0, rx[2] ?? 0)
        this.#rx = rx.slice(3)
      } else if (first === 0xf9) {
        this.#send(handshake().subarray(0, 3))
        this.#rx = rx.slice(1)
      } else if ((first & 0xf0) === 0xd0 || (first & 0xf0) === 0xc0) {
        if (rx.length < 2) return
        this.#rx = rx.slice(2)
      } else {
        this.#rx = rx.slice(1)
      }
    }
  }
}

export interface FirmataSim {
  path: string
  binding: SerialBinding
  /** The level the board drives on `pin` (undefined before any write). */
  level(pin: number): number | undefined
  /** While stalled, the port's drain never completes: writes never leave the host. */
  stallWrites(stalled: boolean): void
  /** Pull the USB cable: pending reads fail and serialport reports a disconnect. */
  unplug(): void
}

let counter = 0

export function firmataOnMockBinding(): FirmataSim {
  const path = `/dev/ttySIM-FIRMATA-${process.pid}-${++counter}`
  MockBinding.createPort(path, { echo: false, record: false, readyData: handshake() })
  const cable = new PullableCable()
  let stalled: Array<() => void> | undefined
  let reply: (b: Buffer) => void = () => {}
  const device = new FirmataDevice((b) => reply(b))

  const binding: SerialBinding = {
    list: () => MockBinding.list(),
    async open(options) {
      const port = await MockBinding.open(options)
      const write = port.write.bind(port)
      reply = (b) => setImmediate(() => port.isOpen && port.emitData(b))
      port.write = async (buffer: Buffer) => {
        await write(buffer)
        device.receive(buffer)
      }
      const drain = port.drain.bind(port)
      port.drain = async () => {
        await drain()
        if (stalled) await new Promise<void>((resolve) => stalled?.push(resolve))
      }
      port.read = cable.wrapRead(port.read.bind(port))
      return port
    },
  }

  return {
    path,
    binding,
    level: (pin) => device.levels.get(pin),
    stallWrites(on) {
      if (on) {
        stalled ??= []
        return
      }
      const waiting = stalled ?? []
      stalled = undefined
      for (const resolve of waiting) resolve()
    },
    unplug() {
      cable.pull()
    },
  }
}
