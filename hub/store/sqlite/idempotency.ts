/**
 * IdempotencyStore on SQLite. A claim of a new key is one INSERT ... ON
 * CONFLICT DO NOTHING (exactly one of any number of concurrent inserts, in
 * any process on the file, changes a row); a key seen before is decided in a
 * BEGIN IMMEDIATE transaction (read, then maybe take over a lapsed lease).
 */
import type { Database, Statement, Transaction } from 'better-sqlite3'
import type { ClaimInput, CompleteInput, IdempotencyClaim, IdempotencyStore } from '../idempotency.js'
import { run } from './errors.js'

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

  constructor(db: Database, guard: () => void) {
    this.#guard = guard
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
      if (!row) {
        this.#s.insert.run(input.scope, input.key, input.fingerprint, input.nowMs, input.nowMs + input.leaseMs)
        return { state: 'claimed' }
      }
      if (row.fingerprint !== input.fingerprint) return { state: 'mismatch' }
      if (row.state === 'done') return { state: 'done', status: row.status ?? 500, body: row.body }
      if (row.lease_until_ms > input.nowMs) return { state: 'in_progress' }
      this.#s.renew.run(input.nowMs + input.leaseMs, input.scope, input.key)
      return { state: 'claimed' }
    })
  }

  claim(input: ClaimInput): Promise<IdempotencyClaim> {
    return run(() => {
      this.#guard()
      // The common case, a new key, is one statement; only a key seen before needs the transaction.
      if (this.#s.insert.run(input.scope, input.key, input.fingerprint, input.nowMs, input.nowMs + input.leaseMs).changes > 0) {
        return { state: 'claimed' }
      }
      return this.#claimTx.immediate(input)
    })
  }

  complete(input: CompleteInput): Promise<void> {
    return run(() => {
      this.#guard()
      this.#s.complete.run(input.status, input.body, input.scope, input.key)
    })
  }

  abandon(scope: string, key: string): Promise<void> {
    return run(() => {
      this.#guard()
      this.#s.abandon.run(scope, key)
    })
  }

  deleteOlderThan(cutoffMs: number): Promise<number> {
    return run(() => {
      this.#guard()
      return this.#s.deleteOld.run(cutoffMs).changes
    })
  }
}
