/**
 * IdempotencyStore on SQLite. A claim is decided inside a write
 * transaction (BEGIN IMMEDIATE, shared with other small writes by the
 * connection's WriteBatcher, ./write-batcher.ts): a new key is one INSERT ... ON CONFLICT DO NOTHING, a
 * key seen before is read and maybe taken over (lapsed lease). Writers in
 * other processes on the file are serialized by the same lock, so exactly
 * one concurrent claim wins. Renew, complete and abandon are one statement
 * each, conditioned on the running claim's owner (ownsRunning).
 */
import type { Database, Statement, Transaction } from 'better-sqlite3'
import type { ClaimInput, CompleteInput, IdempotencyClaim, IdempotencyStore, OwnedKey, RenewInput } from '../idempotency.js'
import { ABANDONED, claimDecision, claimLeaseUntil, lostClaim, type IdempotencyEntry } from '../idempotency-rules.js'
import { run } from './errors.js'
import { WriteBatcher, type WriteOptions } from './write-batcher.js'
import type { IdempotencyRow as Row } from '../sql-rows.js'

/** Each write below is one statement, or runs its read-then-write in its own nested transaction. */
const ONE_WRITE: WriteOptions = { single: true }

export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly #guard: () => void
  readonly #s: {
    get: Statement<[string, string], Row>
    insert: Statement<[string, string, string, number, number, string]>
    take: Statement<[number, string, string, string]>
    renew: Statement<[number, string, string, string]>
    complete: Statement<[number, string | null, string, string, string]>
    abandon: Statement<[string, string, string]>
    deleteOld: Statement<[number]>
  }
  readonly #claimTx: Transaction<(input: ClaimInput) => IdempotencyClaim>
  /** A write through the connection's group commit (see WriteBatcher). */
  readonly #write: <T>(work: () => T, o?: WriteOptions) => Promise<T>

  constructor(db: Database, guard: () => void) {
    this.#guard = guard
    this.#write = WriteBatcher.for(db).writer(guard)
    this.#s = {
      get: db.prepare<[string, string], Row>(
        'SELECT fingerprint, state, status, body, lease_until_ms, owner, created_at_ms FROM idempotency_keys WHERE scope = ? AND key = ?',
      ),
      insert: db.prepare<[string, string, string, number, number, string]>(
        `INSERT INTO idempotency_keys (scope, key, fingerprint, state, status, body, created_at_ms, lease_until_ms, owner)
         VALUES (?, ?, ?, 'running', NULL, NULL, ?, ?, ?)
         ON CONFLICT (scope, key) DO NOTHING`,
      ),
      take: db.prepare<[number, string, string, string]>('UPDATE idempotency_keys SET lease_until_ms = ?, owner = ? WHERE scope = ? AND key = ?'),
      // ownsRunning, as the statements' condition (the one write is the compare-and-set).
      renew: db.prepare<[number, string, string, string]>(
        "UPDATE idempotency_keys SET lease_until_ms = ? WHERE scope = ? AND key = ? AND owner = ? AND state = 'running'",
      ),
      complete: db.prepare<[number, string | null, string, string, string]>(
        "UPDATE idempotency_keys SET state = 'done', status = ?, body = ? WHERE scope = ? AND key = ? AND owner = ? AND state = 'running'",
      ),
      // rule: ABANDONED (idempotency-rules.ts): the key stays, its claim lapsed and owned by no run.
      abandon: db.prepare<[string, string, string]>(
        `UPDATE idempotency_keys SET owner = '${ABANDONED.owner}', lease_until_ms = ${ABANDONED.leaseUntilMs} WHERE scope = ? AND key = ? AND owner = ? AND state = 'running'`,
      ),
      deleteOld: db.prepare<[number]>('DELETE FROM idempotency_keys WHERE created_at_ms < ?'),
    }
    this.#claimTx = db.transaction((input: ClaimInput): IdempotencyClaim => {
      const d = claimDecision(this.#entry(input.scope, input.key), input)
      if (d.write === 'insert') this.#s.insert.run(input.scope, input.key, input.fingerprint, input.nowMs, d.leaseUntilMs, input.owner)
      else if (d.write === 'take') this.#s.take.run(d.leaseUntilMs, input.owner, input.scope, input.key)
      return d.claim
    })
  }

  claim(input: ClaimInput): Promise<IdempotencyClaim> {
    return this.#write(() => this.claimInWrite(input), ONE_WRITE)
  }

  /** claim's work, inside a write of this connection (./peer-hold-writes.ts). */
  claimInWrite(input: ClaimInput): IdempotencyClaim {
    // The common case, a new key, is one statement (claimDecision's unseen-key case, as an
    // INSERT that does nothing on a seen key); only a key seen before needs the read.
    if (this.#s.insert.run(input.scope, input.key, input.fingerprint, input.nowMs, claimLeaseUntil(input), input.owner).changes > 0) {
      return { state: 'claimed', firstClaimedAtMs: input.nowMs }
    }
    return this.#claimTx(input)
  }

  /** lostClaim (idempotency-rules.ts) for the key as stored, inside a write of this connection (./peer-hold-writes.ts). */
  lostClaimInWrite(input: ClaimInput): Exclude<IdempotencyClaim, { state: 'claimed' }> | null {
    return lostClaim(this.#entry(input.scope, input.key), input)
  }

  /** The stored key as the rules read it (idempotency-rules.ts), or null. */
  #entry(scope: string, key: string): IdempotencyEntry | null {
    const row = this.#s.get.get(scope, key)
    return row ? { ...row, leaseUntilMs: row.lease_until_ms, createdAtMs: row.created_at_ms } : null
  }

  /** complete's work, inside a write of this connection (./peer-hold-writes.ts). */
  completeInWrite(input: CompleteInput): boolean {
    return this.#s.complete.run(input.status, input.body, input.scope, input.key, input.owner).changes > 0
  }

  renew(input: RenewInput): Promise<boolean> {
    return this.#write(() => this.#s.renew.run(claimLeaseUntil(input), input.scope, input.key, input.owner).changes > 0, ONE_WRITE)
  }

  complete(input: CompleteInput): Promise<boolean> {
    return this.#write(() => this.completeInWrite(input), ONE_WRITE)
  }

  abandon(input: OwnedKey): Promise<boolean> {
    return this.#write(() => this.#s.abandon.run(input.scope, input.key, input.owner).changes > 0, ONE_WRITE)
  }

  deleteOlderThan(cutoffMs: number): Promise<number> {
    return run(() => {
      this.#guard()
      return this.#s.deleteOld.run(cutoffMs).changes
    })
  }
}
