/**
 * KeyedReservationWrites on SQLite: a vehicle's reservation.create booked
 * with its request id's claim and answer in one savepoint of the
 * connection's group commit (./keyed-write.ts). The key is claimed before the
 * free check: a request id held by another run (running, answered, or used
 * for another request) is seen before anything is booked.
 */
import type { KeyedAnswer } from '../idempotency.js'
import type { BookingOutcome, CreateReservationInput, KeyedReservationWrites, ReservationRecord } from '../types.js'
import type { SqliteIdempotencyStore } from './idempotency.js'
import { keyedWrite } from './keyed-write.js'
import type { SqliteReservationStore } from './reservations.js'

export class SqliteKeyedReservations implements KeyedReservationWrites {
  readonly #reservations: SqliteReservationStore
  readonly #keys: SqliteIdempotencyStore

  /** The sub-stores must be on the same connection (one group commit, one transaction). */
  constructor(reservations: SqliteReservationStore, keys: SqliteIdempotencyStore) {
    this.#reservations = reservations
    this.#keys = keys
  }

  createReservation(input: CreateReservationInput, keyed: KeyedAnswer<ReservationRecord>): Promise<BookingOutcome<ReservationRecord>> {
    return keyedWrite(this.#reservations, this.#keys, keyed, input.nowMs, (store): BookingOutcome<ReservationRecord> => {
      const outcome = this.#reservations.createReservationInWrite(input)
      if (!outcome.ok) return outcome
      store(outcome.record)
      // Last: a statement above that failed rolled the write back before the index saw the reservation.
      this.#reservations.indexReservation(outcome.record)
      return outcome
    })
  }
}
