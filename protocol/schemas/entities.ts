import { z } from 'zod'
import { Currency, Id, MinorUnits, Position, StationStatus, Time, Wh } from './common.js'

export const Station = z.object({
  stationId: Id,
  hubId: Id,
  position: Position,
  powerKw: z.number().positive(),
  priceMinorPerKwh: MinorUnits,
  currency: Currency,
  status: StationStatus,
  online: z.boolean(),
})
export type Station = z.infer<typeof Station>

export const NearStation = Station.extend({
  distanceKm: z.number().nonnegative(),
  free: z.boolean(),
})
export type NearStation = z.infer<typeof NearStation>

export const Reservation = z.object({
  reservationId: Id,
  stationId: Id,
  hubId: Id,
  vehicleId: Id,
  position: Position,
  at: Time,
  windowStart: Time,
  windowEnd: Time,
})
export type Reservation = z.infer<typeof Reservation>

export const Receipt = z.object({
  sessionId: Id,
  stationId: Id,
  hubId: Id,
  vehicleId: Id,
  startedAt: Time,
  endedAt: Time,
  energyWh: Wh,
  priceMinorPerKwh: MinorUnits,
  costMinor: MinorUnits,
  currency: Currency,
})
export type Receipt = z.infer<typeof Receipt>

export const SessionStart = z.object({
  sessionId: Id,
  stationId: Id,
  startedAt: Time,
  meterStartWh: Wh,
})

export const SessionStatus = SessionStart.extend({
  vehicleId: Id.optional(),
  hubId: Id.optional(),
  state: z.enum(['starting', 'charging', 'stopped']).optional(),
  energyWh: Wh,
  powerW: z.number().nonnegative(),
  costMinor: MinorUnits,
  currency: Currency.optional(),
})

export const Hop = z.object({ hubId: Id, name: z.string(), city: z.string(), position: Position })

export const Route = z.object({
  routeId: Id,
  hops: z.array(Hop).min(1),
  distanceKm: z.number().nonnegative(),
})
export type Route = z.infer<typeof Route>

export const TripLeg = z.object({
  hubId: Id,
  stationId: Id,
  position: Position,
  at: Time,
  reservationId: Id,
})

export const Trip = z.object({ tripId: Id, legs: z.array(TripLeg).min(1) })
export type Trip = z.infer<typeof Trip>

/**
 * A trip as `trip.list` shows it, whatever became of it: `booking` (holds
 * being placed, confirmed or undone), `confirmed`, `failed` (nothing of it is
 * booked) or `cancelled`. A leg's station and reservation are null until booked.
 */
export const TripSummary = z.object({
  tripId: Id,
  routeId: Id,
  state: z.enum(['booking', 'confirmed', 'failed', 'cancelled']),
  createdAt: Time,
  legs: z.array(z.object({ hubId: Id, at: Time, stationId: Id.nullable(), reservationId: Id.nullable() })).min(1),
  /** Why a failed trip failed: the hop (0-based; -1 when not one hop) and the error code. */
  failure: z.object({ failedHop: z.number().int().min(-1), reason: z.string() }).nullable(),
})
export type TripSummary = z.infer<typeof TripSummary>

/** Cost of a session: docs/protocol.md `costMinor = round(energyWh * priceMinorPerKwh / 1000)`. */
export function costMinor(energyWh: number, priceMinorPerKwh: number): number {
  return Math.round((energyWh * priceMinorPerKwh) / 1000)
}
