/**
 * The simulated car: a battery, a consumption figure and a position. Pure
 * arithmetic, no I/O, so the fleet engine and the one-shot commands agree on
 * what "range" means.
 *
 * range (km) = capacity (kWh) x SoC / consumption (kWh/100 km) x 100
 */
import type { Position } from '../protocol/index.js'

export interface BatterySpec {
  capacityKwh: number
  /** State of charge, 0..1. */
  soc: number
  consumptionKwhPer100Km: number
}

export function validateBattery(b: BatterySpec): void {
  if (!(b.capacityKwh > 0) || !Number.isFinite(b.capacityKwh)) throw new RangeError('capacityKwh must be a positive number')
  if (!(b.soc >= 0 && b.soc <= 1)) throw new RangeError('soc must be between 0 and 1')
  if (!(b.consumptionKwhPer100Km > 0) || !Number.isFinite(b.consumptionKwhPer100Km)) {
    throw new RangeError('consumptionKwhPer100Km must be a positive number')
  }
}

/** Range in km for a battery. */
export function rangeKm(b: BatterySpec): number {
  return ((b.capacityKwh * b.soc) / b.consumptionKwhPer100Km) * 100
}

/** Energy (kWh) needed to drive `km`. */
export function energyForKm(km: number, consumptionKwhPer100Km: number): number {
  return (km * consumptionKwhPer100Km) / 100
}

export class Vehicle {
  capacityKwh: number
  soc: number
  consumptionKwhPer100Km: number
  position: Position
  odometerKm = 0

  constructor(battery: BatterySpec, position: Position) {
    validateBattery(battery)
    this.capacityKwh = battery.capacityKwh
    this.soc = battery.soc
    this.consumptionKwhPer100Km = battery.consumptionKwhPer100Km
    this.position = { lat: position.lat, lon: position.lon }
  }

  get energyKwh(): number {
    return this.capacityKwh * this.soc
  }

  get rangeKm(): number {
    return rangeKm(this)
  }

  get empty(): boolean {
    return this.soc <= 0
  }

  /**
   * Drive `km` (ending at `to` when given). Returns the km actually driven:
   * less than asked when the battery runs flat on the way.
   */
  drive(km: number, to?: Position): number {
    if (!(km >= 0)) throw new RangeError('distance must be >= 0')
    const possible = Math.min(km, this.rangeKm)
    this.soc = possible < km ? 0 : Math.max(0, this.soc - energyForKm(possible, this.consumptionKwhPer100Km) / this.capacityKwh)
    this.odometerKm += possible
    if (to && possible === km) this.position = { lat: to.lat, lon: to.lon }
    return possible
  }

  /** Add energy (kWh), up to capacity. Returns the kWh actually stored. */
  charge(kwh: number): number {
    if (!(kwh >= 0)) throw new RangeError('energy must be >= 0')
    const stored = Math.min(kwh, this.capacityKwh - this.energyKwh)
    this.soc = Math.min(1, (this.energyKwh + stored) / this.capacityKwh)
    return stored
  }

  /** kWh needed to reach `targetSoc`. */
  energyTo(targetSoc: number): number {
    return Math.max(0, (targetSoc - this.soc) * this.capacityKwh)
  }

  /** What a request's `position` and `rangeKm` fields carry. */
  requestFields(): { position: Position; rangeKm: number } {
    return { position: { lat: this.position.lat, lon: this.position.lon }, rangeKm: Math.min(20_000, Math.max(0.001, Math.round(this.rangeKm * 1000) / 1000)) }
  }
}
