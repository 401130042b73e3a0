/**
 * The car and the meter of the mock board. Energy flows at `powerKw` only
 * while the relay contacts are closed (read from the relay pin's level, NC
 * inverted) and a car is plugged in. Time comes from an injected clock, so a
 * test advances the clock instead of sleeping.
 */
import { HwError, type HwErrorCode } from './errors.js'
import type { MockIo } from './mock-io.js'
import type { EnergyMeter, MeterReading, RelayType } from './types.js'
import { systemClock, type Clock } from '../base/clock.js'

export interface MockMeterOptions {
  io: MockIo
  /** The pin index of the relay that feeds the socket. */
  relayPin: number
  relayType: RelayType
  powerKw: number
  startWh?: number
  pluggedIn?: boolean
  /** Nominal voltage, V (default 230). */
  voltageV?: number
  /** Phases the car draws on (default 1 up to 7.4 kW, else 3). */
  phases?: 1 | 3
  clock?: Clock
}

export class MockMeter implements EnergyMeter {
  readonly kind = 'mock' as const
  readonly #io: MockIo
  readonly #relayPin: number
  readonly #relayType: RelayType
  readonly #clock: Clock
  readonly #voltageV: number
  readonly #phases: 1 | 3
  readonly #stopWatching: () => void
  #powerKw: number
  #pluggedIn: boolean
  #energyWh: number
  #lastTs: number
  /** Whether current flowed since #lastTs (the pin level has already changed when a write listener runs). */
  #wasFlowing: boolean
  #frozen: Omit<MeterReading, 'ts'> | undefined
  readonly #queued: Array<Partial<MeterReading>> = []
  readonly #failures: HwErrorCode[] = []
  #closed = false
  #chain: Promise<unknown> = Promise.resolve()

  constructor(opts: MockMeterOptions) {
    this.#io = opts.io
    this.#relayPin = opts.relayPin
    this.#relayType = opts.relayType
    this.#clock = opts.clock ?? systemClock
    this.#powerKw = opts.powerKw
    this.#pluggedIn = opts.pluggedIn ?? true
    this.#energyWh = opts.startWh ?? 0
    this.#voltageV = opts.voltageV ?? 230
    this.#phases = opts.phases ?? (opts.powerKw > 7.4 ? 3 : 1)
    this.#lastTs = this.#clock.now()
    this.#wasFlowing = this.flowing
    // Integrate up to the instant the contacts change, so energy is exact whatever the read cadence.
    this.#stopWatching = opts.io.onWrite((pin) => {
      if (pin === this.#relayPin) this.#advance()
    })
  }

  /** True while current can flow: contacts closed and a car plugged in. */
  get flowing(): boolean {
    const level = this.#io.pinValue(this.#relayPin)
    const contactsClosed = this.#relayType === 'NC' ? level === 0 : level === 1
    return contactsClosed && this.#pluggedIn
  }

  get pluggedIn(): boolean {
    return this.#pluggedIn
  }

  read(): Promise<MeterReading> {
    // Serialised like a real bus, and always asynchronous.
    const next = this.#chain.then(() => new Promise<MeterReading>((resolve, reject) => setImmediate(() => {
      try {
        resolve(this.#readNow())
      } catch (err) {
        reject(err)
      }
    })))
    this.#chain = next.catch(() => {})
    return next
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      this.#stopWatching()
    }
    return Promise.resolve()
  }

  // ---- test hooks ----

  /** Plug the simulated car in or out. */
  setPluggedIn(pluggedIn: boolean): void {
    this.#advance()
    this.#pluggedIn = pluggedIn
    this.#wasFlowing = this.flowing
  }

  /** Change what the car draws from now on. */
  setPowerKw(powerKw: number): void {
    this.#advance()
    this.#powerKw = powerKw
  }

  /** The next read() returns the simulated reading with these fields replaced (e.g. a backwards register). */
  emitReading(reading: Partial<MeterReading>): void {
    this.#queued.push(reading)
  }

  /** The next read() rejects with this code (default HW_METER_READ_FAILED); call again to fail more reads. */
  failNextRead(code: HwErrorCode = 'HW_METER_READ_FAILED'): void {
    this.#failures.push(code)
  }

  /** From now on every read repeats the current values (a stale meter), with fresh timestamps. */
  freeze(): void {
    const { ts: _ts, ...values } = this.#simulated()
    this.#frozen = values
  }

  unfreeze(): void {
    this.#frozen = undefined
  }

  /**
   * The simulated register and power now, without consuming queued readings or
   * failures and synchronously (for the mock board's persisted state, see
   * mock-watchdog.ts). Not part of EnergyMeter.
   */
  peek(): { energyWh: number; powerW: number; flowing: boolean; ts: number } {
    this.#advance()
    return { energyWh: this.#energyWh, powerW: this.flowing ? Math.round(this.#powerKw * 1000) : 0, flowing: this.flowing, ts: this.#lastTs }
  }

  #readNow(): MeterReading {
    if (this.#closed) throw new HwError('HW_CLOSED', 'mock meter was closed')
    const failure = this.#failures.shift()
    if (failure) throw new HwError(failure, `simulated meter read failure (${failure})`)
    const reading = this.#frozen ? { ...this.#frozen, ts: this.#clock.now() } : this.#simulated()
    const override = this.#queued.shift()
    return override ? { ...reading, ...override } : reading
  }

  #simulated(): MeterReading {
    this.#advance()
    const powerW = this.flowing ? Math.round(this.#powerKw * 1000) : 0
    const currentA = Math.round((powerW / (this.#voltageV * this.#phases)) * 100) / 100
    return { energyWh: Math.floor(this.#energyWh), powerW, voltageV: this.#voltageV, currentA, ts: this.#lastTs }
  }

  #advance(): void {
    const now = this.#clock.now()
    const dt = now - this.#lastTs
    // Integrate with the state that held since #lastTs, not the one a relay write just set.
    if (dt > 0 && this.#wasFlowing) this.#energyWh += (this.#powerKw * 1000 * dt) / 3_600_000
    if (dt > 0) this.#lastTs = now
    this.#wasFlowing = this.flowing
  }
}
