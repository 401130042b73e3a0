/**
 * PeerHoldWrites on SQLite: a peer's hold (or its confirm) and the peer-hold
 * ledger entry in one savepoint of the connection's group commit, so one
 * commit where the two calls take two. The ledger is read first inside the
 * write, under the batch's write lock: a release that overtook the
 * placement (its tombstone) is seen before anything is booked, so nothing
 * has to be undone after.
 */
import { CONFIRMABLE_PEER_HOLD_STATES } from '../peer-hold-rules.js'
import type { PeerHoldRecord } from '../trips.js'
import type { BookingOutcome, ConfirmHoldOutcome, HoldRecord, PeerHoldWrites, PlaceHoldInput } from '../types.js'
import type { SqliteReservationStore } from './reservations.js'
import type { SqliteTripStore } from './trips.js'

export class SqlitePeerHoldWrites implements PeerHoldWrites {
  readonly #reservations: SqliteReservationStore
  readonly #trips: SqliteTripStore

  /** Both sub-stores must be on the same connection (one group commit, one transaction). */
  constructor(reservations: SqliteReservationStore, trips: SqliteTripStore) {
    this.#reservations = reservations
    this.#trips = trips
  }

  placePeerHold(input: PlaceHoldInput, peerHubId: string): Promise<BookingOutcome<HoldRecord> | { ok: false; known: PeerHoldRecord }> {
    return this.#reservations.bookingWrite(() => {
      const known = this.#trips.peerHoldInWrite(input.holdId)
      if (known) return { ok: false as const, known }
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
      return outcome
    })
  }

  confirmPeerHold(input: { holdId: string; reservationId: string; nowMs: number }): Promise<ConfirmHoldOutcome | { status: 'released' }> {
    return this.#reservations.bookingWrite(() => {
      const entry = this.#trips.peerHoldInWrite(input.holdId)
      if (!entry || !CONFIRMABLE_PEER_HOLD_STATES.includes(entry.state)) return { status: 'released' as const }
      const outcome = this.#reservations.confirmHoldInWrite(input)
      if (outcome.status === 'confirmed') this.#trips.peerHoldConfirmedInWrite({ holdId: input.holdId, reservationId: outcome.reservation.reservationId, nowMs: input.nowMs })
      return outcome
    })
  }
}
