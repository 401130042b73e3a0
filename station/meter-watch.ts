/**
 * Judging meter readings (docs/design.md, Billing): a register that goes backwards
 * is a fault, and so is a meter that keeps repeating the same register while
 * it reports power flowing through closed contacts (a stale value: the
 * energy it should have counted would be well over its resolution).
 * A car that draws nothing (power 0) is not a stale meter.
 */
import type { MeterReading } from '../hw/types.js'
import { FAULT_CODES, type FaultCode } from './errors.js'

export interface MeterWatchOptions {
  /** Energy (Wh) the reported power should have added while the register did not move. Default 5. */
  staleMinWh?: number
  /** And for at least this long, ms. Default 10 000. */
  staleMinMs?: number
}

export type Verdict = { ok: true } | { ok: false; code: FaultCode; message: string }

export class MeterWatch {
  readonly #staleMinWh: number
  readonly #staleMinMs: number
  #last: { energyWh: number; at: number; powerW: number } | undefined
  /** When the register last moved (or watching restarted), and the energy owed since. */
  #sinceChange = { at: 0, expectedWh: 0 }

  constructor(opts: MeterWatchOptions = {}) {
    this.#staleMinWh = opts.staleMinWh ?? 5
    this.#staleMinMs = opts.staleMinMs ?? 10_000
  }

  /** The last register that passed, if any. */
  get lastEnergyWh(): number | undefined {
    return this.#last?.energyWh
  }

  /** Judge a reading taken at `now`; `flowExpected` is true while the relay is closed. */
  observe(reading: MeterReading, now: number, flowExpected: boolean): Verdict {
    const last = this.#last
    if (last && reading.energyWh < last.energyWh) {
      return { ok: false, code: FAULT_CODES.METER_BACKWARDS, message: `meter register went backwards from ${last.energyWh} Wh to ${reading.energyWh} Wh` }
    }
    if (!last || reading.energyWh !== last.energyWh || !flowExpected) {
      this.#sinceChange = { at: now, expectedWh: 0 }
    } else {
      const dt = Math.max(0, now - last.at)
      // Trapezoid over the reported power: what the register should have gained.
      this.#sinceChange.expectedWh += (((last.powerW + reading.powerW) / 2) * dt) / 3_600_000
      const stuckMs = now - this.#sinceChange.at
      if (this.#sinceChange.expectedWh >= this.#staleMinWh && stuckMs >= this.#staleMinMs) {
        return {
          ok: false,
          code: FAULT_CODES.METER_STALE,
          message: `meter register stuck at ${reading.energyWh} Wh for ${stuckMs} ms while it reports ${reading.powerW} W`,
        }
      }
    }
    this.#last = { energyWh: reading.energyWh, at: now, powerW: reading.powerW }
    return { ok: true }
  }

  /** The contacts changed: stale tracking starts over (the register is kept for the backwards check). */
  restart(now: number): void {
    this.#sinceChange = { at: now, expectedWh: 0 }
  }
}
