/**
 * The in-memory indexes one SQLite connection keeps, and the one rule that
 * keeps them true: the BookingIndex and VehicleBookingIndex of
 * ./reservations.ts and the peer-hold ledger's count of ./trips.ts each
 * register here, and all of them are emptied together
 *
 * - when `PRAGMA data_version` shows that another connection (another
 *   process on the file, or another handle in this one) committed since the
 *   last look: `dropIfOthersWrote`;
 * - when a group commit of this connection failed as a whole (./write-batcher.ts),
 *   after its writes had put their changes there: `clear`. A single write
 *   puts its changes in as its last step, once every statement of it
 *   succeeded, so one that fails (its savepoint rolled back) leaves the
 *   indexes as the database is;
 * - when a write touched more than an index tracks (cancelling every
 *   reservation of a vehicle, sweeping the ledger): `clear`.
 *
 * Each index reloads from the database on its next use. The pragma is a read
 * transaction (two `fcntl` locks: 4 µs alone, 12-25 µs measured between a
 * request's other work), so it is not asked again for a question that came in
 * before the last time it was asked (`receivedAt`), nor within a group commit
 * once asked there (the batch's write lock keeps every other connection from
 * committing: WriteBatcher.flushStartedAt).
 */
import type { Database, Statement } from 'better-sqlite3'

/** The one set of a connection, kept by its WriteBatcher (`WriteBatcher.for(db).indexes`), which empties it when a batch fails. */
export class ConnectionIndexes {
  readonly #dataVersion: Statement<[], number>
  readonly #clears: Array<() => void> = []
  #seenVersion = -1
  /** `performance.now()` just before `#dataVersion` was last read. */
  #checkedAt = -Infinity

  constructor(db: Database) {
    this.#dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck()
  }

  /** Add an index: `clear` empties it. */
  register(clear: () => void): void {
    this.#clears.push(clear)
  }

  /**
   * Empty every index when another connection committed since the last look. `receivedAt`
   * (`performance.now()` when the question came in, or a group commit's flushStartedAt): not asked
   * again when the last look was taken after it.
   */
  dropIfOthersWrote(receivedAt?: number): void {
    if (receivedAt !== undefined && receivedAt < this.#checkedAt) return
    const checkedAt = performance.now()
    const version = this.#dataVersion.get() as number
    this.#checkedAt = checkedAt
    if (version !== this.#seenVersion) {
      this.clear()
      this.#seenVersion = version
    }
  }

  /** Empty every index: a group commit that had changed them failed, or a write touched more than they track. */
  clear(): void {
    for (const c of this.#clears) c()
  }
}
