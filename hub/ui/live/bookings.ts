/**
 * The bookings of the next 24 h (reservations, and holds live now) and the
 * trips under way, read from the store in one query each. `version` rises
 * whenever what is booked changes, so the live feed can tell pages to reload.
 */
import type { Clock } from '../../../base/clock.js'
import type { StationRegistry } from '../../stations/index.js'
import type { Booking, Store, TripRecord } from '../../store/index.js'

export const BOOKINGS_HORIZON_MS = 24 * 3600_000

export interface BookingsPicture {
  fromMs: number
  toMs: number
  windowMs: number
  bookings: Booking[]
  trips: TripRecord[]
}

export class BookingsWatch {
  readonly #d: { store: Store; stations: StationRegistry; clock: Clock; windowMs: number }
  #signature = ''
  #version = 0
  #next = new Map<string, number>()

  constructor(d: { store: Store; stations: StationRegistry; clock: Clock; windowMs: number }) {
    this.#d = d
  }

  get version(): number {
    return this.#version
  }

  /** The earliest booking per station within the horizon (as of the last refresh). */
  get nextByStation(): ReadonlyMap<string, number> {
    return this.#next
  }

  async picture(): Promise<BookingsPicture> {
    const { store, stations, clock, windowMs } = this.#d
    const now = clock.now()
    const half = BOOKINGS_HORIZON_MS / 2
    // Under the window rule |at - atMs| < windowMs, so this asks for every booking in (now, now + 24 h).
    const ids = stations.all().map((s) => s.stationId)
    const bookings = ids.length === 0 ? [] : await store.reservations.findBookings({ stationIds: ids, atMs: now + half, windowMs: half, nowMs: now })
    const trips = await store.trips.listTrips(['trying', 'confirming', 'confirmed', 'cancelling'])
    return { fromMs: now, toMs: now + BOOKINGS_HORIZON_MS, windowMs, bookings, trips }
  }

  /** Re-read the bookings; true when they changed since the last refresh. */
  async refresh(): Promise<boolean> {
    const p = await this.picture()
    const next = new Map<string, number>()
    for (const b of p.bookings) if (!next.has(b.stationId) || (next.get(b.stationId) as number) > b.atMs) next.set(b.stationId, b.atMs)
    this.#next = next
    const sig = p.bookings.map((b) => b.id).join(',') + '|' + p.trips.map((t) => `${t.tripId}:${t.state}:${t.updatedAtMs}`).join(',')
    if (sig === this.#signature) return false
    this.#signature = sig
    this.#version++
    return true
  }
}
