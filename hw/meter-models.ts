/**
 * Modbus register maps of common DIN-rail meters, by model name. Eastron SDM
 * meters expose measurements as input registers (function 0x04), each an
 * IEEE-754 float32 in two big-endian registers.
 */
import { HwError } from './errors.js'

export interface RegisterMap {
  /** Input register of total import active energy, kWh. */
  energyKwh: number
  /** Input register of the active power the car draws, W. */
  powerW: number
  voltageV?: number
  currentA?: number
}

const SDM_SINGLE_PHASE: RegisterMap = { voltageV: 0x0000, currentA: 0x0006, powerW: 0x000c, energyKwh: 0x0048 }

export const METER_MODELS: Readonly<Record<string, RegisterMap>> = {
  SDM120: SDM_SINGLE_PHASE,
  SDM230: SDM_SINGLE_PHASE,
  // Three-phase: 0x000C is phase 1 only; a three-phase car draws on all, so use
  // total system power (0x0034, register 30053 in Eastron's SDM630 protocol).
  // Voltage and current stay phase 1's.
  SDM630: { voltageV: 0x0000, currentA: 0x0006, powerW: 0x0034, energyKwh: 0x0048 },
}

export const KNOWN_METER_MODELS = Object.keys(METER_MODELS)

export function registerMap(model: string): RegisterMap {
  const map = METER_MODELS[model.toUpperCase()]
  if (!map) {
    throw new HwError('HW_METER_UNKNOWN_MODEL', `unknown meter model "${model}"; known models: ${KNOWN_METER_MODELS.join(', ')}`, {
      details: { model, known: KNOWN_METER_MODELS },
    })
  }
  return map
}
