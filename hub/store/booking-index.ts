/**
 * An in-memory copy of the bookings (reservations and unconfirmed holds) of
 * the stations a store was asked about, so `findBookings` (the "is it free at
 * `at`" of `station.nearest`) needs no database query per request.
 *
 * It holds data, not rules: which of its entries block `at` is decided by
 * `withinWindow` and `isLiveHold` of ./booking-rules.ts, the same predicates
 * the store's SQL encodes, and test/store-booking-index.test.ts checks its
 * answers against the store's own under random bookings, cancellations,
 * expiring holds and other writers.
 *
 * Coherence is the owner's job: it applies its own writes (`add`, `remove`,
 * `removeExpired`) and calls `clear()` whenever someone else may have
 * written (SQLite: `PRAGMA data_version` moved) or a write of its own may
 * not have committed. The SQLite store also checks bookings against it
 * inside the booking transaction, where its write lock keeps everyone
 * else out (./sqlite/reservations.ts).
 *
 * Bookings at or before `floorMs` are not kept; a question that reaches back
 * that far is answered by the store (`covers` is false). The floor moves up
 * (and the index empties) once it lags `nowMs` by two horizons, so the copy
 * stays the size of the bookings ahead of now.
 */
import { blocks, isExpiredHold } from './booking-rules.js'
import type { Booking, BookingQuery } from './types.js'

export interface BookingIndexOptions {
  /** How far behind `nowMs` bookings are kept, ms (default 24 h); it must exceed the booking window. */
  horizonMs?: number
}

export class BookingIndex {
  readonly #horizonMs: number
  /** Per station, its bookings sorted by `atMs`; a station absent here is not loaded. */
  readonly #byStation = new Map<string, Booking[]>()
  /** Each indexed booking by id (reservation and hold ids are both unique, and never shared). */
  readonly #byId = new Map<string, Booking>()
  #floorMs = -Infinity

  constructor(opts: BookingIndexOptions = {}) {
    this.#horizonMs = opts.horizonMs ?? 24 * 3_600_000
  }

  /** Whether the index may answer `q`: every booking it needs is newer than the floor. Moves the floor when it lags. */
  covers(q: Pick<BookingQuery, 'atMs' | 'windowMs' | 'nowMs'>): boolean {
    if (this.#floorMs === -Infinity || q.nowMs - this.#floorMs > 2 * this.#horizonMs) {
      this.clear()
      this.#floorMs = q.nowMs - this.#horizonMs
    }
    return q.atMs - q.windowMs >= this.#floorMs
  }

  /** The floor loads must respect: `load(stationId, rows with atMs > floorMs)`. */
  get floorMs(): number {
    return this.#floorMs
  }

  has(stationId: string): boolean {
    return this.#byStation.has(stationId)
  }

  /** Every booking of `stationId` newer than the floor (reservations, and holds not confirmed), read from the store. */
  load(stationId: string, bookings: readonly Booking[]): void {
    const list = bookings.filter((b) => b.atMs > this.#floorMs).sort((a, b) => a.atMs - b.atMs)
    this.#byStation.set(stationId, list)
    for (const b of list) this.#byId.set(b.id, b)
  }

  /** The bookings of `stationId` that block `q` under the window rule (reservations, and holds live at `nowMs`), in time order. */
  blocking(stationId: string, q: Pick<BookingQuery, 'atMs' | 'windowMs' | 'nowMs'>, out: Booking[]): void {
    const list = this.#byStation.get(stationId)
    if (!list) return
    // Binary search only narrows the scan (conservatively); the rule functions decide.
    for (let i = firstFrom(list, q.atMs - q.windowMs); i < list.length; i++) {
      const b = list[i] as Booking
      if (b.atMs > q.atMs + q.windowMs) break
      if (blocks(b, q)) out.push(b)
    }
  }

  /** A booking this store committed (a new reservation, or a new hold). Ignored for stations not loaded. */
  add(b: Booking): void {
    // Already there: loaded from the database after the write committed, before the writer got here.
    if (b.atMs <= this.#floorMs || this.#byId.has(b.id)) return
    const list = this.#byStation.get(b.stationId)
    if (!list) return
    // After the bookings at the same time: a station's list keeps the order its bookings came in.
    list.splice(firstAfter(list, b.atMs), 0, b)
    this.#byId.set(b.id, b)
  }

  /** A booking this store deleted, or a hold it confirmed (it then blocks as its reservation). */
  remove(id: string): void {
    const b = this.#byId.get(id)
    if (b === undefined) return
    this.#byId.delete(id)
    const list = this.#byStation.get(b.stationId)
    if (!list) return
    // Its place by time (a station keeps thousands of bookings ahead), then by id among those at the same time.
    for (let i = firstFrom(list, b.atMs); i < list.length && (list[i] as Booking).atMs === b.atMs; i++) {
      if ((list[i] as Booking).id === id) {
        list.splice(i, 1)
        return
      }
    }
  }

  /** Holds this store deleted as expired at `nowMs` (deleteExpiredHolds: `isExpiredHold`). */
  removeExpired(nowMs: number): void {
    for (const [stationId, list] of this.#byStation) {
      const keep: Booking[] = []
      for (const b of list) {
        if (b.kind === 'hold' && isExpiredHold({ reservationId: null, expiresAtMs: b.expiresAtMs }, nowMs)) this.#byId.delete(b.id)
        else keep.push(b)
      }
      if (keep.length !== list.length) this.#byStation.set(stationId, keep)
    }
  }

  /** Forget everything: someone else wrote, or a write touched more than this store tracks. */
  clear(): void {
    this.#byStation.clear()
    this.#byId.clear()
  }
}

/** Index of the first booking of `list` (sorted by `atMs`) at or after `atMs`. */
function firstFrom(list: readonly Booking[], atMs: number): number {
  return firstPast(list, atMs, false)
}

/** Index of the first booking of `list` (sorted by `atMs`) after `atMs`. */
function firstAfter(list: readonly Booking[], atMs: number): number {
  return firstPast(list, atMs, true)
}

/** Binary search: the index of the first booking of `list` after `atMs`, or at it too unless `skipAt`. */
function firstPast(list: readonly Booking[], atMs: number, skipAt: boolean): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const at = (list[mid] as Booking).atMs
    if (at < atMs || (skipAt && at === atMs)) lo = mid + 1
    else hi = mid
  }
  return lo
}
