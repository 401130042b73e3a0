/** The reservation rules of docs/protocol.md, as numbers the code uses. */
import { reservationErrors as errors } from './errors.js'

export interface ReservationRules {
  /** Two bookings of one station conflict when their times are less than this apart. */
  windowMs: number
  /** `at` must be at least this far after now. */
  minLeadMs: number
  /** `at` must be at most this far after now (`rules.maxAdvanceDays`). */
  maxAdvanceMs: number
  /**
   * Most live bookings (reservations whose window has not ended, holds
   * neither confirmed nor expired) one vehicle may have at this hub; a peer's
   * vehicle is counted per (peer, vehicle) (`rules.maxReservationsPerVehicle`).
   */
  maxPerVehicle: number
}

export function rulesFromConfig(rules: { windowMinutes: number; minLeadMinutes: number; maxAdvanceDays: number; maxReservationsPerVehicle: number }): ReservationRules {
  return {
    windowMs: rules.windowMinutes * 60_000,
    minLeadMs: rules.minLeadMinutes * 60_000,
    maxAdvanceMs: rules.maxAdvanceDays * 86_400_000,
    maxPerVehicle: rules.maxReservationsPerVehicle,
  }
}

/**
 * The lead rules for a booking at `atMs` made at `nowMs` (epoch ms):
 * `nowMs + minLeadMs <= atMs <= nowMs + maxAdvanceMs`. Throws TOO_SOON or
 * TOO_FAR_AHEAD (VoltwayError); every path that books (reservation.create,
 * holds for trips) checks here.
 */
export function checkLead(atMs: number, nowMs: number, rules: Pick<ReservationRules, 'minLeadMs' | 'maxAdvanceMs'>): void {
  if (atMs - nowMs < rules.minLeadMs) throw errors.tooSoon(atMs, nowMs + rules.minLeadMs, rules.minLeadMs)
  if (atMs - nowMs > rules.maxAdvanceMs) throw errors.tooFarAhead(atMs, nowMs + rules.maxAdvanceMs, rules.maxAdvanceMs)
}
