/**
 * S0 pulse meter (IEC 62053-31): the meter closes its S0 contact once per
 * 1/pulsesPerKwh kWh; we count rising edges on a digital input of the board.
 * The register counts from `startWh` when the meter is created: S0 carries no
 * absolute reading, and sessions bill differences anyway.
 */
import { HwError } from './errors.js'
import type { Board, DigitalLevel, EnergyMeter, MeterReading, PinId, Unsubscribe } from './types.js'
import { systemClock, type Clock } from '../base/clock.js'

export interface S0MeterOptions {
  board: Board
  pin: PinId
  pulsesPerKwh: number
  startWh?: number
  clock?: Clock
}

export class S0Meter implements EnergyMeter {
  readonly kind = 's0' as const
  readonly #board: Board
  readonly #clock: Clock
  readonly #whPerPulse: number
  readonly #startWh: number
  readonly #stop: Unsubscribe[] = []
  #pulses = 0
  #level: DigitalLevel | undefined
  #lastPulseTs: number | undefined
  #lastIntervalMs: number | undefined
  #connected = true
  #closed = false

  /** The board must be ready (watchInput throws HW_BAD_PIN for a pin it lacks). */
  constructor(opts: S0MeterOptions) {
    this.#board = opts.board
    this.#clock = opts.clock ?? systemClock
    this.#whPerPulse = 1000 / opts.pulsesPerKwh
    this.#startWh = opts.startWh ?? 0
    this.#stop.push(opts.board.watchInput(opts.pin, (level) => this.#onLevel(level)))
    this.#stop.push(opts.board.onDisconnect(() => {
      this.#connected = false
    }))
  }

  /** Pulses counted since creation. */
  get pulses(): number {
    return this.#pulses
  }

  read(): Promise<MeterReading> {
    return new Promise<MeterReading>((resolve, reject) => setImmediate(() => {
      if (this.#closed) return reject(new HwError('HW_CLOSED', 'S0 meter was closed'))
      // Pulses may have been missed while the board was away: the count is no longer the truth.
      if (!this.#connected || !this.#board.isReady) return reject(new HwError('HW_DISCONNECTED', 'the board counting S0 pulses is disconnected'))
      const ts = this.#clock.now()
      resolve({ energyWh: Math.floor(this.#startWh + this.#pulses * this.#whPerPulse), powerW: this.#powerW(ts), ts })
    }))
  }

  close(): Promise<void> {
    this.#closed = true
    for (const stop of this.#stop.splice(0)) stop()
    return Promise.resolve()
  }

  #onLevel(level: DigitalLevel): void {
    const previous = this.#level
    this.#level = level
    if (previous !== 0 || level !== 1) return // the first report is only the baseline
    const ts = this.#clock.now()
    if (this.#lastPulseTs !== undefined) this.#lastIntervalMs = ts - this.#lastPulseTs
    this.#lastPulseTs = ts
    this.#pulses++
  }

  /**
   * Power from the last pulse interval, capped by the time since the last pulse
   * (when pulses stop, power falls instead of freezing at its last value).
   */
  #powerW(now: number): number {
    if (this.#lastPulseTs === undefined || this.#lastIntervalMs === undefined || this.#lastIntervalMs <= 0) return 0
    const fromInterval = (this.#whPerPulse * 3_600_000) / this.#lastIntervalMs
    const sinceLast = now - this.#lastPulseTs
    const bound = sinceLast > 0 ? (this.#whPerPulse * 3_600_000) / sinceLast : fromInterval
    return Math.round(Math.min(fromInterval, bound) * 10) / 10
  }
}
