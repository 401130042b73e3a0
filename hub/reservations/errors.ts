/**
 * The user-caused errors of the reservation area, each a VoltwayError with
 * its docs/protocol.md code. Details never name another vehicle.
 */
import { VoltwayError, formatTime } from '../../protocol/index.js'

export const reservationErrors = {
  badTime: (at: string): VoltwayError => new VoltwayError('BAD_REQUEST', 'at must be an RFC 3339 time', { at }),
  tooSoon: (atMs: number, earliestMs: number, minLeadMs: number): VoltwayError =>
    new VoltwayError('TOO_SOON', `a reservation must be at least ${minLeadMs / 60_000} minutes ahead`, {
      at: formatTime(atMs),
      earliest: formatTime(earliestMs),
      minLeadMinutes: minLeadMs / 60_000,
    }),
  tooFarAhead: (atMs: number, latestMs: number, maxAdvanceMs: number): VoltwayError =>
    new VoltwayError('TOO_FAR_AHEAD', `a reservation may be at most ${maxAdvanceMs / 86_400_000} days ahead`, {
      at: formatTime(atMs),
      latest: formatTime(latestMs),
      maxAdvanceDays: maxAdvanceMs / 86_400_000,
    }),
  /** The vehicle has `live` live bookings here and may have at most `limit`. */
  limit: (live: number, limit: number): VoltwayError =>
    new VoltwayError(
      'RESERVATION_LIMIT',
      `this vehicle already has ${live} live ${live === 1 ? 'reservation or hold' : 'reservations or holds'} at this hub, the most it may have: cancel one or wait until one has passed`,
      { live, limit },
    ),
  stationNotFound: (stationId: string): VoltwayError =>
    new VoltwayError('NOT_FOUND', `no station ${stationId} at this hub`, { stationId }),
  outOfRange: (stationId: string, distanceKm: number, rangeKm: number): VoltwayError =>
    new VoltwayError('OUT_OF_RANGE', `station ${stationId} is ${distanceKm.toFixed(1)} km away, beyond the range of ${rangeKm} km`, {
      stationId,
      distanceKm,
      rangeKm,
    }),
  conflict: (stationId: string, atMs: number, windowMs: number): VoltwayError =>
    new VoltwayError('RESERVATION_CONFLICT', `station ${stationId} is booked within ${windowMs / 60_000} minutes of that time`, {
      stationId,
      at: formatTime(atMs),
      windowMinutes: windowMs / 60_000,
    }),
  noStation: (rangeKm: number, inRange: number): VoltwayError =>
    new VoltwayError(
      'NO_STATION_AVAILABLE',
      inRange === 0 ? `no station within ${rangeKm} km` : `all ${inRange} stations within ${rangeKm} km are booked at that time`,
      { rangeKm, stationsInRange: inRange },
    ),
  reservationNotFound: (reservationId: string): VoltwayError =>
    new VoltwayError('NOT_FOUND', `no reservation ${reservationId} of this vehicle`, { reservationId }),
}
