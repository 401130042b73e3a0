/** Logic shared by every Store implementation once the conflicting bookings are known. */
import type { Booking, BookingCandidate } from './types.js'

/** The first candidate none of `blocking` belongs to, or undefined. */
export function firstFree(candidates: readonly BookingCandidate[], blocking: readonly Booking[]): BookingCandidate | undefined {
  if (blocking.length === 0) return candidates[0]
  const busy = new Set(blocking.map((b) => b.stationId))
  return candidates.find((c) => !busy.has(c.stationId))
}

/** Station ids of `candidates`, without duplicates, in order. */
export function candidateIds(candidates: readonly BookingCandidate[]): string[] {
  return [...new Set(candidates.map((c) => c.stationId))]
}

export function compareBookings(a: Booking, b: Booking): number {
  if (a.stationId !== b.stationId) return a.stationId < b.stationId ? -1 : 1
  if (a.atMs !== b.atMs) return a.atMs - b.atMs
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}
