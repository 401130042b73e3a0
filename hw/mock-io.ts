/**
 * A johnny-five IO plugin that simulates an Arduino-Uno-like board: pins 0-13
 * digital, 14-19 analog (A0-A5), Firmata modes and events. CI and demos run
 * on it through the same johnny-five Board and Relay as real hardware.
 * Events and read callbacks are always asynchronous, as on a real board.
 */
import { EventEmitter } from 'node:events'
import type { IoModes, IoPinInfo, IoPlugin } from './io-plugin.js'

export interface MockIoOptions {
  /** Emit connect/ready by itself after construction (default true). */
  autoConnect?: boolean
}

const MODES = { INPUT: 0x00, OUTPUT: 0x01, ANALOG: 0x02, PWM: 0x03, SERVO: 0x04, PULLUP: 0x0b } as const
const DIGITAL_PINS = 14
const ANALOG_PINS = 6
const PWM_PINS = new Set([3, 5, 6, 9, 10, 11])

function freshPins(): IoPinInfo[] {
  const pins: IoPinInfo[] = []
  for (let i = 0; i < DIGITAL_PINS + ANALOG_PINS; i++) {
    const analog = i >= DIGITAL_PINS
    const supportedModes: number[] = [MODES.INPUT, MODES.OUTPUT, MODES.PULLUP]
    if (analog) supportedModes.push(MODES.ANALOG)
    if (PWM_PINS.has(i)) supportedModes.push(MODES.PWM, MODES.SERVO)
    pins.push({ supportedModes, mode: analog ? MODES.ANALOG : MODES.OUTPUT, value: 0, report: 1, analogChannel: analog ? i - DIGITAL_PINS : 127 })
  }
  return pins
}

export class MockIo extends EventEmitter implements IoPlugin {
  readonly name = 'VoltwayMockIO'
  readonly MODES: IoModes & { PULLUP: number } = { ...MODES }
  readonly HIGH = 1
  readonly LOW = 0
  readonly analogPins: number[] = Array.from({ length: ANALOG_PINS }, (_, i) => DIGITAL_PINS + i)
  readonly RESOLUTION = { ADC: 1023, DAC: null, PWM: 255 }
  readonly pins: IoPinInfo[] = freshPins()
  isReady = false
  readonly #lastWrites = new Map<number, number>()
  readonly #writeListeners = new Set<(pin: number, value: number) => void>()
  #failNextWrite: Error | undefined
  #stalled: Array<() => void> | undefined
  #connected = false

  constructor(opts: MockIoOptions = {}) {
    super()
    if (opts.autoConnect !== false) this.connect()
  }

  /** Bring the board up: emits `connect` then `ready`, asynchronously. */
  connect(): void {
    setImmediate(() => {
      this.#connected = true
      this.emit('connect')
      this.isReady = true
      this.emit('ready')
    })
  }

  normalize(pin: number | string): number {
    if (typeof pin === 'number') return pin
    const m = /^A(\d+)$/i.exec(pin)
    return m ? (this.analogPins[Number(m[1])] ?? -1) : Number(pin)
  }

  pinMode(pin: number, mode: number): this {
    const info = this.#info(pin)
    if (!info.supportedModes.includes(mode)) throw new Error(`pin ${pin} does not support mode ${mode}`)
    info.mode = mode
    return this
  }

  digitalWrite(pin: number, value: number): this {
    const info = this.#info(pin)
    if (!this.#connected) throw new Error('mock board is not connected')
    const fail = this.#failNextWrite
    if (fail) {
      this.#failNextWrite = undefined
      throw fail
    }
    const level = value ? this.HIGH : this.LOW
    info.value = level
    this.#lastWrites.set(pin, level)
    for (const l of this.#writeListeners) l(pin, level)
    return this
  }

  digitalRead(pin: number, handler: (value: number) => void): this {
    const info = this.#info(pin)
    this.on(`digital-read-${pin}`, handler)
    // Firmata reports the port once when reporting is switched on.
    setImmediate(() => handler(info.value ?? 0))
    return this
  }

  analogRead(pin: number, handler: (value: number) => void): this {
    const index = this.analogPins[pin] ?? pin
    const info = this.#info(index)
    this.on(`analog-read-${pin}`, handler)
    setImmediate(() => handler(info.value ?? 0))
    return this
  }

  analogWrite(pin: number, value: number): this {
    this.#info(pin).value = value
    return this
  }

  pwmWrite(pin: number, value: number): this {
    return this.analogWrite(pin, value)
  }

  servoWrite(pin: number, value: number): this {
    return this.analogWrite(pin, value)
  }

  reportDigitalPin(pin: number, value: 0 | 1): this {
    this.#info(pin).report = value
    return this
  }

  /** Resolves once earlier writes "left the host"; never while stalled (see stallWrites). */
  flush(): Promise<void> {
    if (!this.#stalled) return Promise.resolve()
    const stalled = this.#stalled
    return new Promise<void>((resolve) => stalled.push(resolve))
  }

  /** The transport went away, as when a USB cable is pulled: emits `disconnect`. */
  disconnect(): void {
    if (!this.#connected) return
    this.#connected = false
    this.isReady = false
    setImmediate(() => this.emit('disconnect'))
  }

  /** Release the simulated transport (the board's close()). */
  close(): Promise<void> {
    this.#connected = false
    this.isReady = false
    return Promise.resolve()
  }

  // ---- test hooks ----

  /** The last level written to `pin` by digitalWrite, or undefined if none since reset(). */
  lastWrite(pin: number): number | undefined {
    return this.#lastWrites.get(pin)
  }

  /** The current level of `pin` (output: last write; input: last simulated level). */
  pinValue(pin: number): number {
    return this.#info(pin).value ?? 0
  }

  /** Drive an input pin from outside, as wiring would; resolves after read handlers ran. */
  setInput(pin: number, level: 0 | 1): Promise<void> {
    const info = this.#info(pin)
    return new Promise<void>((resolve) => {
      setImmediate(() => {
        info.value = level
        this.emit(`digital-read-${pin}`, level)
        resolve()
      })
    })
  }

  /** The next digitalWrite throws `err` (as a plugin does when its transport fails). */
  failNextWrite(err: Error = new Error('simulated write failure')): void {
    this.#failNextWrite = err
  }

  /** While stalled, flush() does not resolve: writes never "leave the host". */
  stallWrites(stalled: boolean): void {
    if (stalled) {
      this.#stalled ??= []
      return
    }
    const waiting = this.#stalled ?? []
    this.#stalled = undefined
    for (const resolve of waiting) resolve()
  }

  /** Observe every digitalWrite synchronously (the simulated physics uses this). */
  onWrite(listener: (pin: number, value: number) => void): () => void {
    this.#writeListeners.add(listener)
    return () => this.#writeListeners.delete(listener)
  }

  /** Forget writes, pin levels and armed failures; keeps listeners and connection. */
  reset(): void {
    freshPins().forEach((fresh, i) => Object.assign(this.pins[i] ?? {}, fresh))
    this.#lastWrites.clear()
    this.#failNextWrite = undefined
    this.stallWrites(false)
  }

  #info(pin: number): IoPinInfo {
    const info = this.pins[pin]
    if (!info) throw new Error(`mock board has no pin ${pin}`)
    return info
  }
}
