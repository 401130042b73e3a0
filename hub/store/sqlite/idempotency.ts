/**
 * IdempotencyStore on SQLite. A claim is decided inside a write
 * transaction (BEGIN IMMEDIATE, shared with other small writes by the
 * WriteBatcher below): a new key is one INSERT ... ON CONFLICT DO NOTHING, a
 * key seen before is read and maybe taken over (lapsed lease). Writers in
 * other processes on the file are serialized by the same lock, so exactly
 * one concurrent claim wins.
 */
import type { Database, Statement, Transaction } from 'better-sqlite3'
import type { ClaimInput, CompleteInput, IdempotencyClaim, IdempotencyStore } from '../idempotency.js'
import { claimDecision, claimLeaseUntil } from '../idempotency-rules.js'
import { run, toStoreError } from './errors.js'

interface Pending {
  work: () => unknown
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
}

/**
 * Group commit for the federation's small writes on one connection: writes
 * asked for in the same turn of the event loop run in ONE `BEGIN IMMEDIATE`
 * transaction, each inside its own savepoint (so one failing write rolls
 * back alone and rejects alone). Each promise settles after the COMMIT, so
 * a resolved write is durable and visible, exactly as if it had committed
 * alone; only the commit cost is shared.
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
  readonly #batch: Transaction<(ops: Pending[]) => Array<{ ok: boolean; value: unknown }>>
  #scheduled = false

  private constructor(db: Database) {
    const one = db.transaction((work: () => unknown) => work())
    this.#batch = db.transaction((ops: Pending[]) =>
      ops.map((op) => {
        try {
          // Nested inside the batch, better-sqlite3 runs this as a SAVEPOINT.
          return { ok: true, value: one(op.work) }
        } catch (err) {
          return { ok: false, value: err }
        }
      }),
    )
  }

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (v: unknown) => void, reject })
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
      results = this.#batch.immediate(ops)
    } catch (err) {
      const e = toStoreError(err)
      for (const op of ops) op.reject(e)
      return
    }
    results.forEach((r, i) => {
      const op = ops[i] as Pending
      if (r.ok) op.resolve(r.value)
      else op.reject(toStoreError(r.value))
    })
  }
}

interface Row {
  fingerprint: string
  state: 'running' | 'done'
  status: number | null
  body: string | null
  lease_until_ms: number
}

export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly #guard: () => void
  readonly #s: {
    get: Statement<[string, string], Row>
    insert: Statement<[string, string, string, number, number]>
    renew: Statement<[number, string, string]>
    complete: Statement<[number, string | null, string, string]>
    abandon: Statement<[string, string]>
    deleteOld: Statement<[number]>
  }
  readonly #claimTx: Transaction<(input: ClaimInput) => IdempotencyClaim>
  readonly #batch: WriteBatcher

  constructor(db: Database, guard: () => void) {
    this.#guard = guard
    this.#batch = WriteBatcher.for(db)
    this.#s = {
      get: db.prepare<[string, string], Row>(
        'SELECT fingerprint, state, status, body, lease_until_ms FROM idempotency_keys WHERE scope = ? AND key = ?',
      ),
      insert: db.prepare<[string, string, string, number, number]>(
        `INSERT INTO idempotency_keys (scope, key, fingerprint, state, status, body, created_at_ms, lease_until_ms)
         VALUES (?, ?, ?, 'running', NULL, NULL, ?, ?)
         ON CONFLICT (scope, key) DO NOTHING`,
      ),
      renew: db.prepare<[number, string, string]>('UPDATE idempotency_keys SET lease_until_ms = ? WHERE scope = ? AND key = ?'),
      complete: db.prepare<[number, string | null, string, string]>(
        "UPDATE idempotency_keys SET state = 'done', status = ?, body = ? WHERE scope = ? AND key = ?",
      ),
      abandon: db.prepare<[string, string]>("DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND state = 'running'"),
      deleteOld: db.prepare<[number]>('DELETE FROM idempotency_keys WHERE created_at_ms < ?'),
    }
    this.#claimTx = db.transaction((input: ClaimInput): IdempotencyClaim => {
      const row = this.#s.get.get(input.scope, input.key)
      const d = claimDecision(row ? { ...row, leaseUntilMs: row.lease_until_ms } : null, input)
      if (d.write === 'insert') this.#s.insert.run(input.scope, input.key, input.fingerprint, input.nowMs, d.leaseUntilMs)
      else if (d.write === 'renew') this.#s.renew.run(d.leaseUntilMs, input.scope, input.key)
      return d.claim
    })
  }

  claim(input: ClaimInput): Promise<IdempotencyClaim> {
    return this.#write(() => {
      // The common case, a new key, is one statement (claimDecision's unseen-key case, as an
      // INSERT that does nothing on a seen key); only a key seen before needs the read.
      if (this.#s.insert.run(input.scope, input.key, input.fingerprint, input.nowMs, claimLeaseUntil(input)).changes > 0) {
        return { state: 'claimed' }
      }
      return this.#claimTx(input)
    })
  }

  complete(input: CompleteInput): Promise<void> {
    return this.#write(() => {
      this.#s.complete.run(input.status, input.body, input.scope, input.key)
    })
  }

  abandon(scope: string, key: string): Promise<void> {
    return this.#write(() => {
      this.#s.abandon.run(scope, key)
    })
  }

  #write<T>(work: () => T): Promise<T> {
    try {
      this.#guard()
    } catch (err) {
      return Promise.reject(toStoreError(err))
    }
    return this.#batch.run(work)
  }

  deleteOlderThan(cutoffMs: number): Promise<number> {
    return run(() => {
      this.#guard()
      return this.#s.deleteOld.run(cutoffMs).changes
    })
  }
}
