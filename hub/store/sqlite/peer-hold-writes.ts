/**
 * PeerHoldWrites on SQLite: a peer's hold (or its confirm), the peer-hold
 * ledger entry and, for a keyed call, its Idempotency-Key's claim and answer,
 * in one savepoint of the connection's group commit: one commit where the
 * separate calls take up to four. The key is claimed first and the ledger
 * read next, inside the write under the batch's write lock: a key held by
 * another run, or a release that overtook the placement (its tombstone), is
 * seen before anything is booked, so nothing has to be undone after.
 */
import { CONFIRMABLE_PEER_HOLD_STATES } from '../peer-hold-rules.js'
import type { IdempotencyClaim, KeyedAnswer } from '../idempotency.js'
import type { PeerHoldRecord } from '../trips.js'
import type { BookingOutcome, ConfirmHoldOutcome, HoldRecord, PeerHoldWrites, PlaceHoldInput, ReservationRecord } from '../types.js'
import type { SqliteIdempotencyStore } from './idempotency.js'
import type { SqliteReservationStore } from './reservations.js'
import type { SqliteTripStore } from './trips.js'

/** What one write did for its keyed call: the claim it made (null: none), the answer it stored (null: none). */
interface KeyedDone<T> {
  value: T
  claim: IdempotencyClaim | null
  stored: { status: number; body: string } | null
}

export class SqlitePeerHoldWrites implements PeerHoldWrites {
  readonly #reservations: SqliteReservationStore
  readonly #trips: SqliteTripStore
  readonly #keys: SqliteIdempotencyStore

  /** The sub-stores must be on the same connection (one group commit, one transaction). */
  constructor(reservations: SqliteReservationStore, trips: SqliteTripStore, keys: SqliteIdempotencyStore) {
    this.#reservations = reservations
    this.#trips = trips
    this.#keys = keys
  }

  placePeerHold(input: PlaceHoldInput, peerHubId: string, keyed?: KeyedAnswer<HoldRecord>): Promise<BookingOutcome<HoldRecord> | { ok: false; known: PeerHoldRecord }> {
    return this.#keyedWrite(keyed, input.nowMs, (store): BookingOutcome<HoldRecord> | { ok: false; known: PeerHoldRecord } => {
      const known = this.#trips.peerHoldInWrite(input.holdId)
      if (known) return { ok: false, known }
      const outcome = this.#reservations.placeHoldInWrite(input)
      if (!outcome.ok) return outcome
      const h = outcome.record
      this.#trips.recordPeerHoldInWrite({
        holdId: h.holdId,
        peerHubId,
        txId: h.txId,
        vehicleId: h.vehicleId,
        stationId: h.stationId,
        position: h.position,
        atMs: h.atMs,
        expiresAtMs: h.expiresAtMs,
        nowMs: input.nowMs,
      })
      store(h)
      // Last: a statement above that failed rolled the write back before the index saw the hold.
      this.#reservations.indexHold(h)
      return outcome
    })
  }

  confirmPeerHold(
    input: { holdId: string; reservationId: string; nowMs: number },
    keyed?: KeyedAnswer<ReservationRecord>,
  ): Promise<ConfirmHoldOutcome | { status: 'released' }> {
    return this.#keyedWrite(keyed, input.nowMs, (store): ConfirmHoldOutcome | { status: 'released' } => {
      const entry = this.#trips.peerHoldInWrite(input.holdId)
      if (!entry || !CONFIRMABLE_PEER_HOLD_STATES.includes(entry.state)) return { status: 'released' }
      const outcome = this.#reservations.confirmHoldInWrite(input)
      if (outcome.status === 'confirmed') {
        this.#trips.peerHoldConfirmedInWrite({ holdId: input.holdId, reservationId: outcome.reservation.reservationId, nowMs: input.nowMs })
        store(outcome.reservation)
      }
      this.#reservations.indexConfirmed(input.holdId, outcome)
      return outcome
    })
  }

  /**
   * `work` in one booking write at `nowMs`, after the keyed call's claim when it still needs one (a
   * claim not `claimed`: nothing else runs). `work` calls `store` with what it made to store the
   * call's answer with it. What the committed write did is settled on the call (KeyedCall.settle).
   */
  async #keyedWrite<R, T>(keyed: KeyedAnswer<R> | undefined, nowMs: number, work: (store: (made: R) => void) => T): Promise<T> {
    const done = await this.#reservations.bookingWrite((): KeyedDone<T | null> => {
      const pending = keyed?.call.pendingClaim ?? null
      // The first write claims the key (its lease from this write on); a later one checks the run still owns it (a
      // claim that lapsed and was taken by another run, which may have answered already: this run must book nothing more).
      const claim = pending !== null ? this.#keys.claimInWrite({ ...pending, nowMs }) : keyed ? this.#keys.lostClaimInWrite(keyed.call.claimInput) : null
      if (claim !== null && claim.state !== 'claimed') return { value: null, claim, stored: null }
      let stored: KeyedDone<T>['stored'] = null
      const value = work((made) => {
        if (!keyed) return
        const { scope, key, owner } = keyed.call.claimInput
        const body = keyed.body(made)
        if (this.#keys.completeInWrite({ scope, key, owner, status: keyed.status, body, nowMs })) stored = { status: keyed.status, body }
      })
      return { value, claim, stored }
    })
    keyed?.call.settle(done.claim, done.stored)
    return done.value as T
  }
}
