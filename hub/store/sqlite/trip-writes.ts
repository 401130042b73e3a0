/**
 * TripWrites on SQLite: a coordinator's trip written with its lease, its
 * vehicle's request-id claim and its first hop's hold here, marked
 * `confirming` with that hold confirmed, and saved with the request's
 * answer, each in one savepoint of the connection's group commit
 * (./write-batcher.ts): the trip's three writes take one commit each where
 * separate calls take four, two and two. The claim comes first
 * (./keyed-write.ts): a request id held by another run is seen before the
 * lease is taken, the trip written or a station held.
 */
import type { KeyedAnswer, KeyedCall } from '../idempotency.js'
import type { AcquireLeaseInput } from '../leases.js'
import type { SaveTripOptions, TripRecord } from '../trips.js'
import type { BookingOutcome, ConfirmHoldOutcome, HoldRecord, PlaceHoldInput, TripWrites } from '../types.js'
import type { SqliteIdempotencyStore } from './idempotency.js'
import { keyedWrite } from './keyed-write.js'
import type { SqliteLeaseStore } from './leases.js'
import type { SqliteReservationStore } from './reservations.js'
import type { SqliteTripStore } from './trips.js'

export class SqliteTripWrites implements TripWrites {
  readonly #reservations: SqliteReservationStore
  readonly #trips: SqliteTripStore
  readonly #leases: SqliteLeaseStore
  readonly #keys: SqliteIdempotencyStore

  /** The sub-stores must be on the same connection (one group commit, one transaction). */
  constructor(reservations: SqliteReservationStore, trips: SqliteTripStore, leases: SqliteLeaseStore, keys: SqliteIdempotencyStore) {
    this.#reservations = reservations
    this.#trips = trips
    this.#leases = leases
    this.#keys = keys
  }

  createLeasedTrip(trip: TripRecord, lease: AcquireLeaseInput, call?: KeyedCall, ownHold?: PlaceHoldInput): Promise<{ leased: boolean; hold: BookingOutcome<HoldRecord> | null }> {
    return keyedWrite(this.#reservations, this.#keys, call && withoutAnswer(call), lease.nowMs, () => {
      if (!this.#leases.acquireInWrite(lease)) return { leased: false, hold: null }
      this.#trips.createTripInWrite(trip)
      const hold = ownHold ? this.#reservations.placeHoldInWrite(ownHold) : null
      // Last: a statement above that failed rolled the write back before the index saw the hold.
      if (hold?.ok) this.#reservations.indexHold(hold.record)
      return { leased: true, hold }
    })
  }

  saveTripOwned(trip: TripRecord, opts: SaveTripOptions, call: KeyedCall): Promise<boolean> {
    // Not the first write of the run: keyedWrite checks the claim is still the run's, and writes nothing if not.
    return keyedWrite(this.#reservations, this.#keys, withoutAnswer(call), trip.updatedAtMs, () => this.#trips.saveTripInWrite(trip, opts))
  }

  saveTripConfirmingOwn(trip: TripRecord, opts: SaveTripOptions, own: { holdId: string; reservationId: string; nowMs: number }): Promise<{ saved: boolean; own: ConfirmHoldOutcome | null }> {
    return this.#reservations.bookingWrite(() => {
      if (!this.#trips.saveTripInWrite(trip, opts)) return { saved: false, own: null }
      const outcome = this.#reservations.confirmHoldInWrite(own)
      // Last: a statement above that failed rolled the write back before the index saw the reservation.
      this.#reservations.indexConfirmed(own.holdId, outcome)
      return { saved: true, own: outcome }
    })
  }

  async saveTripAnswered(trip: TripRecord, opts: SaveTripOptions, keyed: KeyedAnswer<TripRecord>): Promise<boolean> {
    const { scope, key, owner } = keyed.call.claimInput
    const done = await this.#reservations.bookingWrite(() => {
      if (!this.#trips.saveTripInWrite(trip, opts)) return { saved: false, lost: null, stored: null }
      // Saved whoever owns the key now (the trip's state is the truth the peers acted on); the answer only by its owner.
      const lost = this.#keys.lostClaimInWrite(keyed.call.claimInput)
      if (lost !== null) return { saved: true, lost, stored: null }
      const body = keyed.body(trip)
      const stored = this.#keys.completeInWrite({ scope, key, owner, status: keyed.status, body, nowMs: trip.updatedAtMs }) ? { status: keyed.status, body } : null
      return { saved: true, lost: null, stored }
    })
    // KeyHeld when the key was lost: the run answers what the key holds (hub/requests/idempotent.ts).
    keyed.call.settle(done.lost, done.stored)
    return done.saved
  }
}

/** A keyed write's call for a write that stores no answer (it claims, or checks the claim is still the run's): `body` is never asked for. */
function withoutAnswer(call: KeyedCall): KeyedAnswer<never> {
  return { call, status: 200, body: () => '' }
}
