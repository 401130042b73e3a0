/**
 * `station.nearest`: the stations within range, nearest first, each with
 * whether it is free at `at` (no reservation or live hold closer than the
 * window), and its distance in km to the metre. One store query answers
 * `free` for all of them.
 */
import type { NearStation, Position } from '../../protocol/index.js'
import type { Store } from '../store/index.js'
import type { StationRegistry } from './registry.js'

export interface NearestQuery {
  position: Position
  rangeKm: number
  limit: number
  atMs: number
  nowMs: number
  windowMs: number
  /** When the question came in (BookingQuery.receivedAt); absent: the free check is as of now. */
  receivedAt?: number
}

export async function findNearest(stations: StationRegistry, store: Store, q: NearestQuery): Promise<NearStation[]> {
  const hits = stations.nearest(q.position, q.rangeKm, q.limit)
  if (hits.length === 0) return []
  const bookings = await store.reservations.findBookings({
    stationIds: hits.map((h) => h.item.stationId),
    atMs: q.atMs,
    windowMs: q.windowMs,
    nowMs: q.nowMs,
    ...(q.receivedAt !== undefined ? { receivedAt: q.receivedAt } : {}),
  })
  const busy = new Set(bookings.map((b) => b.stationId))
  return hits.map((h) => {
    const near = stations.toWire(h.item) as NearStation
    // To the metre: a full double costs more to write and to read in every answer, and says no more.
    near.distanceKm = Math.round(h.distanceKm * 1000) / 1000
    near.free = !busy.has(h.item.stationId)
    return near
  })
}
