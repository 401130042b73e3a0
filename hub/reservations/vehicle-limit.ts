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
 * hop 0 of route.reserve, `POST /federation/v1/holds`) runs its booking
 * through `VehicleLimit.for(store).book(...)`: count, refuse with
 * RESERVATION_LIMIT (writing nothing) or book, with the bookings of one
 * vehicle in one process run one at a time (a chain per vehicle key).
 *
 * Bound: in one process (the memory store; SQLite or PostgreSQL with one hub
 * process) the limit is exact. With N processes writing one database
 * (replicas on PostgreSQL, processes sharing a SQLite file) each process may
 * count the same `limit - 1` and book at once, so a vehicle can end with at
 * most `limit + N - 1` live bookings, never more; the next booking after
 * that is refused until enough have passed or been cancelled.
 */
import type { Store } from '../store/index.js'
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
   * Run `book` once the booker's earlier bookings in this process have
   * settled, if it has fewer than `rules.maxPerVehicle` live bookings at
   * `now()` (epoch ms, read when its turn comes). Throws RESERVATION_LIMIT
   * (VoltwayError) without calling `book`; otherwise settles as `book` does.
   */
  book<T>(who: Booker, rules: Pick<ReservationRules, 'windowMs' | 'maxPerVehicle'>, now: () => number, book: () => Promise<T>): Promise<T> {
    const key = who.peerHubId === undefined ? `v\u0000${who.vehicleId}` : `p\u0000${who.peerHubId}\u0000${who.vehicleId}`
    const before = this.#tails.get(key)
    const run = async (): Promise<T> => {
      const live = await this.live(who, rules.windowMs, now())
      if (live >= rules.maxPerVehicle) throw errors.limit(live, rules.maxPerVehicle)
      return book()
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

  /** How many live bookings `who` has at `nowMs` (a reservation is live while its window, `windowMs` after `at`, has not ended). */
  async live(who: Booker, windowMs: number, nowMs: number): Promise<number> {
    const q = { vehicleId: who.vehicleId, fromMs: nowMs - windowMs, nowMs }
    if (who.peerHubId !== undefined) return this.#store.trips.countPeerVehicleHolds({ ...q, peerHubId: who.peerHubId })
    const [all, peers] = await Promise.all([this.#store.reservations.countVehicleBookings(q), this.#store.trips.countPeerVehicleHolds(q)])
    return Math.max(0, all - peers)
  }
}
