/**
 * Modbus register maps and factory serial settings of common DIN-rail meters,
 * by model name. Eastron SDM meters expose measurements as input registers
 * (function 0x04), each an IEEE-754 float32 in two big-endian registers.
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

export type Parity = 'none' | 'even' | 'odd'

/** RS-485 line settings: both ends must agree, or the meter stays silent. */
export interface SerialSettings {
  baudRate: number
  parity: Parity
  dataBits: 7 | 8
  stopBits: 1 | 2
}

export interface MeterModel {
  map: RegisterMap
  /** As the meter leaves the factory (changeable in its setup menu). */
  factory: SerialSettings
  /** The most power the meter is rated to measure, W (Imax x 230 V per phase): bounds a register jump. */
  maxPowerW: number
}

const SDM_SINGLE_PHASE: RegisterMap = { voltageV: 0x0000, currentA: 0x0006, powerW: 0x000c, energyKwh: 0x0048 }

const N81 = { parity: 'none', dataBits: 8, stopBits: 1 } as const

/*
 * Factory settings from Eastron's "SDMxxx Modbus protocol" documents (holding
 * registers 40019 parity/stop bits and 40029 network baud rate, "default" column)
 * and the user manuals' specifications: SDM120 and SDM230 ship at 2400 baud,
 * SDM630 (V2) at 9600, all with no parity, 8 data bits, 1 stop bit. Tasmota's
 * SDM drivers use the same defaults. Ratings: SDM120 Imax 45 A, SDM230 Imax
 * 100 A, SDM630 Imax 100 A per phase. Check the meter's own label when in doubt.
 */
export const METER_MODELS: Readonly<Record<string, MeterModel>> = {
  SDM120: { map: SDM_SINGLE_PHASE, factory: { baudRate: 2400, ...N81 }, maxPowerW: 45 * 230 },
  SDM230: { map: SDM_SINGLE_PHASE, factory: { baudRate: 2400, ...N81 }, maxPowerW: 100 * 230 },
  // Three-phase: 0x000C is phase 1 only; a three-phase car draws on all, so use
  // total system power (0x0034, register 30053 in Eastron's SDM630 protocol).
  // Voltage and current stay phase 1's.
  SDM630: { map: { voltageV: 0x0000, currentA: 0x0006, powerW: 0x0034, energyKwh: 0x0048 }, factory: { baudRate: 9600, ...N81 }, maxPowerW: 3 * 100 * 230 },
}

export const KNOWN_METER_MODELS = Object.keys(METER_MODELS)

export function registerMap(model: string): RegisterMap {
  return meterModel(model).map
}

/** The model's serial settings with the configured ones on top. */
export function serialSettings(model: string, overrides: Partial<SerialSettings>): SerialSettings {
  const f = meterModel(model).factory
  return { baudRate: overrides.baudRate ?? f.baudRate, parity: overrides.parity ?? f.parity, dataBits: overrides.dataBits ?? f.dataBits, stopBits: overrides.stopBits ?? f.stopBits }
}

/** "2400 8N1" */
export function formatSerial(s: SerialSettings): string {
  return `${s.baudRate} ${s.dataBits}${s.parity[0]?.toUpperCase() ?? 'N'}${s.stopBits}`
}

export function meterModel(model: string): MeterModel {
  const m = METER_MODELS[model.toUpperCase()]
  if (!m) {
    throw new HwError('HW_METER_UNKNOWN_MODEL', `unknown meter model "${model}"; known models: ${KNOWN_METER_MODELS.join(', ')}`, {
      details: { model, known: KNOWN_METER_MODELS },
    })
  }
  return m
}
