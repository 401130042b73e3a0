/**
 * The part of the johnny-five IO plugin interface (Firmata-compatible) that
 * hw/ uses. Firmata, the mock board and third-party plugins all fit it.
 * Reads follow the Firmata convention: `digitalRead(pin, handler)` adds
 * `handler` as a listener of the `digital-read-<pin>` event.
 */
import type { EventEmitter } from 'node:events'

export interface IoPinInfo {
  supportedModes: number[]
  mode?: number
  value?: number
  report?: number
  analogChannel?: number
}

export interface IoModes {
  INPUT: number
  OUTPUT: number
  ANALOG: number
  PWM: number
  SERVO: number
}

export interface IoPlugin extends EventEmitter {
  readonly name: string
  readonly isReady: boolean
  readonly pins: IoPinInfo[]
  readonly analogPins: number[]
  readonly MODES: IoModes
  readonly HIGH: number
  readonly LOW: number
  pinMode(pin: number, mode: number): unknown
  digitalWrite(pin: number, value: number): unknown
  digitalRead(pin: number, handler: (value: number) => void): unknown
  analogRead(pin: number, handler: (value: number) => void): unknown
  normalize?(pin: number | string): number
}

/** Resolve "A0"-style and numeric pins to a pin index, or undefined if the board has no such pin. */
export function resolvePin(io: IoPlugin, pin: number | string): number | undefined {
  let index: number | undefined
  if (typeof pin === 'number') index = pin
  else if (/^A\d+$/i.test(pin)) index = io.analogPins[Number(pin.slice(1))]
  else if (/^\d+$/.test(pin)) index = Number(pin)
  else if (io.normalize) index = io.normalize(pin)
  if (index === undefined || !Number.isInteger(index) || index < 0 || index >= io.pins.length) return undefined
  return index
}

export function supportsMode(io: IoPlugin, pin: number, mode: number): boolean {
  const info = io.pins[pin]
  // Plugins that skip the capability query report no modes; trust the config then.
  return info !== undefined && (info.supportedModes.length === 0 || info.supportedModes.includes(mode))
}
