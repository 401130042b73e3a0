/**
 * PeerHoldWrites on SQLite: a peer's hold (or its confirm), the peer-hold
 * ledger entry and, for a keyed call, its Idempotency-Key's claim and answer,
 * in one savepoint of the connection's group commit: one commit where the
 * separate calls take up to four. The peer vehicle's limit is counted in the
 * same write, and the ledger entry read there is the only look at it: no
 * read of its own before (each read outside a write takes the file's read
 * locks, several system calls). The key is claimed first and the ledger
 * read next, inside the write under the batch's write lock: a key held by
 * another run, or a release that overtook the placement (its tombstone), is
 * seen before anything is booked, so nothing has to be undone after.
 */
import { CONFIRMABLE_PEER_HOLD_STATES } from '../peer-hold-rules.js'
import type { KeyedAnswer } from '../idempotency.js'
import type { PeerHoldRecord } from '../trips.js'
import { atLimit } from '../booking-rules.js'
import type { BookingOutcome, HoldRecord, PeerConfirmOutcome, PeerHoldWrites, PlaceHoldInput, ReservationRecord } from '../types.js'
import type { SqliteIdempotencyStore } from './idempotency.js'
import { keyedWrite } from './keyed-write.js'
import type { SqliteReservationStore } from './reservations.js'
import type { SqliteTripStore } from './trips.js'

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
    return keyedWrite(this.#reservations, this.#keys, keyed, input.nowMs, (store): BookingOutcome<HoldRecord> | { ok: false; known: PeerHoldRecord } => {
      const known = this.#trips.peerHoldInWrite(input.holdId)
      if (known) return { ok: false, known }
      // The limit of a peer's vehicle counts that peer's ledger entries, not this hub's bookings.
      const { limit, ...booking } = input
      if (limit) {
        const live = this.#trips.countPeerVehicleInWrite({ peerHubId, vehicleId: input.vehicleId, fromMs: limit.fromMs, nowMs: input.nowMs })
        if (atLimit(live, limit.max)) return { ok: false, conflicts: [], overLimit: live }
      }
      const outcome = this.#reservations.placeHoldInWrite(booking)
      if (!outcome.ok) return outcome
      const h = outcome.record
      const recorded = this.#trips.recordPeerHoldInWrite({
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
      // Last: a statement above that failed rolled the write back before the indexes saw the hold and its entry.
      this.#reservations.indexHold(h)
      this.#trips.indexLedger(recorded.next)
      return outcome
    })
  }

  confirmPeerHold(input: { holdId: string; reservationId: string; nowMs: number }, peerHubId: string, keyed?: KeyedAnswer<ReservationRecord>): Promise<PeerConfirmOutcome> {
    return keyedWrite(this.#reservations, this.#keys, keyed, input.nowMs, (store): PeerConfirmOutcome => {
      const entry = this.#trips.peerHoldInWrite(input.holdId)
      if (!entry || entry.peerHubId !== peerHubId) return { status: 'unknown' }
      if (!CONFIRMABLE_PEER_HOLD_STATES.includes(entry.state)) return { status: 'released' }
      const outcome = this.#reservations.confirmHoldInWrite(input)
      const confirmed = outcome.status === 'confirmed' ? this.#trips.peerHoldConfirmedInWrite({ holdId: input.holdId, reservationId: outcome.reservation.reservationId, nowMs: input.nowMs }) : null
      if (outcome.status === 'confirmed') store(outcome.reservation)
      // Last, as above.
      this.#reservations.indexConfirmed(input.holdId, outcome)
      this.#trips.indexLedger(confirmed?.next ?? null)
      return outcome.status === 'confirmed' ? outcome : { ...outcome, entry }
    })
  }
}
