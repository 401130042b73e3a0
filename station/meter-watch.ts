/**
 * Judging meter readings (docs/design.md, Billing): a register that goes backwards
 * is a fault, and so is a meter that keeps repeating the same register while
 * it reports power flowing through closed contacts (a stale value: the
 * energy it should have counted would be well over its resolution).
 * A car that draws nothing (power 0) is not a stale meter. A register that
 * rises by more than `maxPowerW` could deliver between two reads is a fault
 * too (METER_JUMP: a bit error, a swapped meter, a wrong register map).
 */
import { meterModel } from '../hw/meter-models.js'
import type { MeterReading } from '../hw/types.js'
import type { StationConfig } from './config.js'
import { FAULT_CODES, type FaultCode } from './errors.js'

export interface MeterWatchOptions {
  /** Energy (Wh) the reported power should have added while the register did not move. Default 5. */
  staleMinWh?: number
  /** And for at least this long, ms. Default 10 000. */
  staleMinMs?: number
  /** The most power that can flow, W; undefined = no jump check. */
  maxPowerW?: number
}

/** Slack on the jump bound: the register's 1 Wh resolution on both reads, and clock jitter between them. */
const JUMP_SLACK_WH = 2
const JUMP_SLACK_MS = 1000

export type Verdict = { ok: true } | { ok: false; code: FaultCode; message: string }

export class MeterWatch {
  readonly #staleMinWh: number
  readonly #staleMinMs: number
  readonly #maxPowerW: number | undefined
  #last: { energyWh: number; at: number; powerW: number } | undefined
  /** When the register last moved (or watching restarted), and the energy owed since. */
  #sinceChange = { at: 0, expectedWh: 0 }

  constructor(opts: MeterWatchOptions = {}) {
    this.#staleMinWh = opts.staleMinWh ?? 5
    this.#staleMinMs = opts.staleMinMs ?? 10_000
    this.#maxPowerW = opts.maxPowerW
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
    if (last && this.#maxPowerW !== undefined) {
      const dt = Math.max(0, now - last.at) + JUMP_SLACK_MS
      const allowedWh = (this.#maxPowerW * dt) / 3_600_000 + JUMP_SLACK_WH
      const rise = reading.energyWh - last.energyWh
      if (rise > allowedWh) {
        return {
          ok: false,
          code: FAULT_CODES.METER_JUMP,
          message: `meter register jumped by ${rise} Wh in ${now - last.at} ms; at most ${Math.floor(allowedWh)} Wh can flow at ${this.#maxPowerW} W`,
        }
      }
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

/**
 * Options from station.json: `meterChecks.staleAfterSeconds`, and the jump
 * bound `meterChecks.maxPowerKw`, by default the meter's rating (Modbus model)
 * or the mock meter's power; an S0 meter has no rating, so no jump check
 * unless one is configured.
 */
export function meterWatchOptions(hw: StationConfig['hardware']): MeterWatchOptions {
  const m = hw.meter
  const configured = hw.meterChecks.maxPowerKw
  const maxPowerW = configured !== undefined ? configured * 1000 : m.type === 'mock' ? m.powerKw * 1000 : m.type === 'modbus-rtu' ? meterModel(m.model).maxPowerW : undefined
  return { staleMinMs: hw.meterChecks.staleAfterSeconds * 1000, ...(maxPowerW === undefined ? {} : { maxPowerW }) }
}
