/**
 * The one way the SQLite sub-stores write: statements prepared once per
 * connection, run inside a `BEGIN IMMEDIATE` transaction (the write lock is
 * taken before anything is read, so writers in other processes on the file
 * serialize). Writes that need no answer before the next event-loop turn
 * go through the connection's WriteBatcher (group commit): the federation's
 * ledger, idempotency and lease writes, a reservation's check and insert, and
 * the holds of trips, whose check-and-insert is as atomic in its savepoint as
 * alone (the lock is held from the batch's BEGIN IMMEDIATE to its COMMIT); a
 * write that must run alone runs its own immediate transaction.
 */
import type { Database, Transaction } from 'better-sqlite3'
import { ConnectionIndexes } from './connection-indexes.js'
import { toStoreError } from './errors.js'

interface Pending {
  work: () => unknown
  /** Run without a savepoint of its own (see WriteOptions.single). */
  single: boolean
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
}

export interface WriteOptions {
  /**
   * The work changes the database with at most one statement, its last step (reads before it
   * are fine): SQLite undoes a failing statement by itself and leaves the transaction open
   * [sqlite.org/lang_conflict.html, ABORT], so the work rolls back alone without a SAVEPOINT and
   * RELEASE of its own (two statements saved per write). A work with several writing statements
   * leaves this off, or runs them in its own nested `db.transaction` (which is then the savepoint).
   */
  single?: boolean
}

/**
 * Group commit for the federation's small writes on one connection: writes
 * asked for in the same turn of the event loop run in ONE `BEGIN IMMEDIATE`
 * transaction, each inside its own savepoint (so one failing write rolls
 * back alone and rejects alone). Each promise settles after the COMMIT, so
 * a resolved write is durable and visible, exactly as if it had committed
 * alone; only the commit cost is shared.
 *
 * The connection's in-memory indexes (./connection-indexes.ts) see a write
 * only from its last step, after every statement of it succeeded (the
 * stores' rule: indexHold, indexReservation, indexConfirmed, indexLedger),
 * so a write that fails leaves them as the database is; a batch that fails
 * as a whole (its COMMIT, or an error SQLite rolls everything back on)
 * empties them, since what its writes put there never committed.
 */
export class WriteBatcher {
  static readonly #byDb = new WeakMap<Database, WriteBatcher>()
  /** The one batcher of a connection (shared by its sub-stores, so they share commits). */
  static for(db: Database): WriteBatcher {
    let b = WriteBatcher.#byDb.get(db)
    if (!b) {
      b = new WriteBatcher(db)
      WriteBatcher.#byDb.set(db, b)
    }
    return b
  }

  readonly #queue: Pending[] = []
  #flushStartedAt = -Infinity
  readonly #batch: Transaction<(ops: Pending[]) => Array<{ ok: boolean; value: unknown }>>
  #scheduled = false
  #commits = 0

  /** The connection's in-memory indexes (class doc), shared by its sub-stores. */
  readonly indexes: ConnectionIndexes

  private constructor(db: Database) {
    this.indexes = new ConnectionIndexes(db)
    const one = db.transaction((work: () => unknown) => work())
    this.#batch = db.transaction((ops: Pending[]) =>
      ops.map((op) => {
        try {
          // Nested inside the batch, better-sqlite3 runs `one` as a SAVEPOINT.
          return { ok: true, value: op.single ? op.work() : one(op.work) }
        } catch (err) {
          // SQLite may roll the whole transaction back by itself on these (disk full, I/O error...):
          // fail the whole batch rather than run the rest outside any transaction.
          if (toStoreError(err).code === 'UNAVAILABLE' || !db.inTransaction) throw err
          return { ok: false, value: err }
        }
      }),
    )
  }

  /**
   * A write function for one sub-store: checks `guard` first (a closed
   * store rejects with its StoreError, queueing nothing), then runs `work`
   * through the batch.
   */
  writer(guard: () => void): <T>(work: () => T, o?: WriteOptions) => Promise<T> {
    return <T>(work: () => T, o?: WriteOptions): Promise<T> => {
      try {
        guard()
      } catch (err) {
        return Promise.reject(toStoreError(err))
      }
      return this.run(work, o)
    }
  }

  /**
   * Inside a batch's work: `performance.now()` just before the batch asked for its write lock
   * (`BEGIN IMMEDIATE`, which may wait for it while others commit; no JavaScript runs meanwhile). Every
   * work runs once the lock is held, and no other connection commits until the batch's COMMIT, so
   * what a work read from the database after this instant is still what the database holds.
   */
  get flushStartedAt(): number {
    return this.#flushStartedAt
  }

  /** Group commits made since the connection opened (each a BEGIN IMMEDIATE ... COMMIT that succeeded). */
  get commits(): number {
    return this.#commits
  }

  run<T>(work: () => T, o: WriteOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, single: o.single === true, resolve: resolve as (v: unknown) => void, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    const ops = this.#queue.splice(0)
    let results: Array<{ ok: boolean; value: unknown }>
    try {
      this.#flushStartedAt = performance.now()
      results = this.#batch.immediate(ops)
    } catch (err) {
      this.indexes.clear()
      const e = toStoreError(err)
      for (const op of ops) op.reject(e)
      return
    }
    this.#commits++
    results.forEach((r, i) => {
      const op = ops[i] as Pending
      if (r.ok) op.resolve(r.value)
      else op.reject(toStoreError(r.value))
    })
  }
}
