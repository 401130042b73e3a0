/**
 * An in-memory count of each vehicle's live bookings, for the per-vehicle
 * limit that every booking checks (hub/reservations/vehicle-limit.ts): the
 * SQLite store counted them with SQL inside each booking's transaction, which
 * reads every live row of the vehicle, so a fleet account allowed thousands
 * of bookings paid for all of them on each new one.
 *
 * It holds data, not rules: per vehicle, the times its rules compare, sorted,
 * so a count is two binary searches. Live is isLiveVehicleBooking
 * (./booking-rules.ts): a reservation whose `atMs >= fromMs`, a hold not
 * confirmed whose `expiresAtMs > nowMs`. test/store-booking-index.test.ts
 * checks its counts against the store's SQL under random bookings,
 * cancellations, confirms, expiring holds and other writers.
 *
 * The SQLite peer-hold ledger keeps one too, keyed by peer and vehicle, for
 * the limit of a peer's vehicle: isLivePeerHold compares the same two times
 * (peerHoldCountEntry, ./peer-hold-rules.ts, says which of an entry's).
 * test/store-peer-ledger-index.test.ts checks those counts the same way.
 *
 * Coherence is the owner's job, as with BookingIndex: it applies its own
 * writes (`add`, `put`, `remove`, `removeExpired`) and calls `clear()` whenever
 * someone else may have written or a write of its own may not have committed.
 * Entries older than a floor are not kept; the floor moves up (and the index
 * empties) once it lags `fromMs` by two horizons.
 */
import type { Booking } from './types.js'

/** A vehicle's live-or-recent booking as loaded: a reservation at `t` = atMs, an unconfirmed hold until `t` = expiresAtMs. */
export interface VehicleBookingEntry {
  id: string
  kind: 'reservation' | 'hold'
  t: number
}

export class VehicleBookingIndex {
  readonly #horizonMs: number
  readonly #byVehicle = new Map<string, { reservations: number[]; holds: number[] }>()
  readonly #byId = new Map<string, { vehicleId: string; kind: 'reservation' | 'hold'; t: number }>()
  #floorMs = -Infinity

  /** `horizonMs`: how far behind `fromMs` entries are kept (default 24 h). */
  constructor(opts: { horizonMs?: number } = {}) {
    this.#horizonMs = opts.horizonMs ?? 24 * 3_600_000
  }

  /** Whether the index may count at `q`: every entry it needs is newer than the floor. Moves the floor when it lags. */
  covers(q: { fromMs: number; nowMs: number }): boolean {
    if (this.#floorMs === -Infinity || q.fromMs - this.#floorMs > 2 * this.#horizonMs) {
      this.clear()
      this.#floorMs = q.fromMs - this.#horizonMs
    }
    return q.fromMs >= this.#floorMs && q.nowMs >= this.#floorMs
  }

  /** The floor loads must respect: reservations with `atMs >= floorMs`, unconfirmed holds with `expiresAtMs > floorMs`. */
  get floorMs(): number {
    return this.#floorMs
  }

  has(vehicleId: string): boolean {
    return this.#byVehicle.has(vehicleId)
  }

  /** Every booking of `vehicleId` the floor keeps, read from the store. */
  load(vehicleId: string, entries: readonly VehicleBookingEntry[]): void {
    const lists = { reservations: [] as number[], holds: [] as number[] }
    this.#byVehicle.set(vehicleId, lists)
    for (const e of entries) this.#put(vehicleId, e.id, e.kind, e.t, lists)
  }

  /** A booking this store committed: a new reservation, or a new (unconfirmed) hold. Ignored for vehicles not loaded. */
  add(b: Booking): void {
    const lists = this.#byVehicle.get(b.vehicleId)
    if (!lists || this.#byId.has(b.id)) return
    if (b.kind === 'reservation') this.#put(b.vehicleId, b.id, 'reservation', b.atMs, lists)
    else this.#put(b.vehicleId, b.id, 'hold', b.expiresAtMs, lists)
  }

  /** An entry this store committed for `key` (a vehicle, or whatever the owner counts by), replacing one of the same id. Ignored for keys not loaded. */
  put(key: string, e: VehicleBookingEntry): void {
    this.remove(e.id)
    const lists = this.#byVehicle.get(key)
    if (lists) this.#put(key, e.id, e.kind, e.t, lists)
  }

  /** A booking this store deleted, or a hold it confirmed (it then counts as its reservation). */
  remove(id: string): void {
    const e = this.#byId.get(id)
    if (e === undefined) return
    this.#byId.delete(id)
    const lists = this.#byVehicle.get(e.vehicleId)
    if (!lists) return
    const list = e.kind === 'reservation' ? lists.reservations : lists.holds
    const i = firstPast(list, e.t, false)
    if (list[i] === e.t) list.splice(i, 1)
  }

  /** Holds this store deleted as expired at `nowMs` (deleteExpiredHolds). */
  removeExpired(nowMs: number): void {
    for (const [id, e] of this.#byId) if (e.kind === 'hold' && e.t <= nowMs) this.remove(id)
  }

  /** How many of `vehicleId`'s bookings are live (isLiveVehicleBooking); the vehicle must be loaded and `q` covered. */
  count(vehicleId: string, q: { fromMs: number; nowMs: number }): number {
    const lists = this.#byVehicle.get(vehicleId)
    if (!lists) throw new Error(`vehicle ${vehicleId} is not loaded`)
    return lists.reservations.length - firstPast(lists.reservations, q.fromMs, false) + (lists.holds.length - firstPast(lists.holds, q.nowMs, true))
  }

  /** Forget everything: someone else wrote, or a write touched more than this index tracks. */
  clear(): void {
    this.#byVehicle.clear()
    this.#byId.clear()
  }

  #put(vehicleId: string, id: string, kind: 'reservation' | 'hold', t: number, lists: { reservations: number[]; holds: number[] }): void {
    // Below the floor it can never count (fromMs and nowMs stay at or above it); not kept.
    if (kind === 'reservation' ? t < this.#floorMs : t <= this.#floorMs) return
    const list = kind === 'reservation' ? lists.reservations : lists.holds
    list.splice(firstPast(list, t, false), 0, t)
    this.#byId.set(id, { vehicleId, kind, t })
  }
}

/** Binary search: the index of the first value of the sorted `list` after `t`, or at it too unless `skipAt`. */
function firstPast(list: readonly number[], t: number, skipAt: boolean): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const v = list[mid] as number
    if (v < t || (skipAt && v === t)) lo = mid + 1
    else hi = mid
  }
  return lo
}
