/**
 * The per-vehicle booking limit (docs/protocol.md "Reservation rules",
 * `rules.maxReservationsPerVehicle`): a vehicle may hold at most
 * `maxPerVehicle` live bookings at this hub. Live: a reservation whose window
 * has not ended, or a hold neither confirmed nor expired (isLiveVehicleBooking,
 * hub/store/booking-rules.ts). A peer's vehicle is counted per (peer,
 * vehicle) from the peer-hold ledger (isLivePeerHold); a vehicle of this hub
 * from its own bookings, less those peers placed for a vehicle of that id.
 *
 * Every path that books for a vehicle (reservation.create, book-nearest,
 * hop 0 of route.reserve, `POST /federation/v1/holds`) books through
 * `VehicleLimit.for(store).book(...)`, which answers RESERVATION_LIMIT
 * (writing nothing) at the limit:
 *
 * - a vehicle of this hub on a store that checks `limit` inside the booking's
 *   transaction (`limitsInBooking`: SQLite, whose BEGIN IMMEDIATE serialises
 *   every writer of the file), and a peer's vehicle on a store that writes a
 *   peer's hold with its ledger entry and counts the ledger in that write
 *   (`Store.peerHolds`: SQLite): exact, whatever the number of processes,
 *   and one vehicle's bookings still run side by side;
 * - otherwise (PostgreSQL, whose bookings go in per-turn batches; the memory
 *   store, where a peer's ledger entry is written after its hold):
 *   count, then book, with the bookings of one key in one process chained
 *   (one at a time). Exact in one process. With N processes on one database
 *   (PostgreSQL replicas) each may count the same `limit - 1` at once, so a
 *   vehicle ends with at most `limit + N - 1` live bookings, never more; the
 *   next one is refused until enough have passed or been cancelled.
 */
import { atLimit, type Store, type VehicleLimitCheck } from '../store/index.js'
import { reservationErrors as errors } from './errors.js'
import type { ReservationRules } from './rules.js'

/** Whose bookings are counted: a vehicle of this hub, or a vehicle of peer `peerHubId`. */
export interface Booker {
  vehicleId: string
  peerHubId?: string
}

const byStore = new WeakMap<Store, VehicleLimit>()

export class VehicleLimit {
  readonly #store: Store
  /** The last booking queued per booker key; removed when it is the last and settles. */
  readonly #tails = new Map<string, Promise<unknown>>()

  /** The one limiter of `store` in this process (shared by reservations and trips, so their bookings of one vehicle chain). */
  static for(store: Store): VehicleLimit {
    let l = byStore.get(store)
    if (!l) {
      l = new VehicleLimit(store)
      byStore.set(store, l)
    }
    return l
  }

  private constructor(store: Store) {
    this.#store = store
  }

  /**
   * Book for `who` within `rules.maxPerVehicle` (module doc). `book` gets the
   * limit to pass to the store's booking (`BookingRequest.limit`) when the
   * store checks it in the transaction, else undefined (it was counted here
   * first); a booking outcome with `overLimit` must be answered with
   * `refuseOverLimit`. Throws RESERVATION_LIMIT (VoltwayError) without calling
   * `book`; otherwise settles as `book` does.
   */
  book<T>(who: Booker, rules: Pick<ReservationRules, 'windowMs' | 'maxPerVehicle'>, now: () => number, book: (limit: VehicleLimitCheck | undefined) => Promise<T>): Promise<T> {
    if (who.peerHubId === undefined ? this.#store.reservations.limitsInBooking : this.#store.peerHolds !== undefined) {
      return book(VehicleLimit.inBooking(rules, now()))
    }
    const key = who.peerHubId === undefined ? `v\u0000${who.vehicleId}` : `p\u0000${who.peerHubId}\u0000${who.vehicleId}`
    const before = this.#tails.get(key)
    const run = async (): Promise<T> => {
      await this.refuseAtLimit(who, rules, now())
      return book(undefined)
    }
    const mine = before === undefined ? run() : before.then(run, run)
    const tail = mine.then(
      () => undefined,
      () => undefined,
    )
    this.#tails.set(key, tail)
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    })
    return mine
  }

  /** The limit a booking at `nowMs` checks in its own transaction (BookingRequest.limit): live bookings are those whose window ends after `nowMs`. */
  static inBooking(rules: Pick<ReservationRules, 'windowMs' | 'maxPerVehicle'>, nowMs: number): VehicleLimitCheck {
    return { max: rules.maxPerVehicle, fromMs: nowMs - rules.windowMs }
  }

  /**
   * Throws RESERVATION_LIMIT when `who` has `rules.maxPerVehicle` live bookings at `nowMs`, by a count
   * outside any booking's write: exact in one process only (module doc). For bookings that do not go
   * through book(): the re-booking of an expired hold's slot at its confirm (hub/trips/holds.ts).
   */
  async refuseAtLimit(who: Booker, rules: Pick<ReservationRules, 'windowMs' | 'maxPerVehicle'>, nowMs: number): Promise<void> {
    const live = await this.live(who, rules.windowMs, nowMs)
    if (atLimit(live, rules.maxPerVehicle)) throw errors.limit(live, rules.maxPerVehicle)
  }

  /** Throws RESERVATION_LIMIT for a booking the store refused at the limit (`overLimit`: the live bookings it counted); else nothing. */
  static refuseOverLimit(outcome: { overLimit?: number }, rules: Pick<ReservationRules, 'maxPerVehicle'>): void {
    if (outcome.overLimit !== undefined) throw errors.limit(outcome.overLimit, rules.maxPerVehicle)
  }

  /** How many live bookings `who` has at `nowMs` (a reservation is live while its window, `windowMs` after `at`, has not ended). */
  async live(who: Booker, windowMs: number, nowMs: number): Promise<number> {
    const q = { vehicleId: who.vehicleId, fromMs: nowMs - windowMs, nowMs }
    if (who.peerHubId !== undefined) return this.#store.trips.countPeerVehicleHolds({ ...q, peerHubId: who.peerHubId })
    const [all, peers] = await Promise.all([this.#store.reservations.countVehicleBookings(q), this.#store.trips.countPeerVehicleHolds(q)])
    return Math.max(0, all - peers)
  }
}
