/**
 * IdempotencyStore on PostgreSQL. Each key once: the primary key (scope,
 * key). A new key is one `INSERT ... ON CONFLICT DO NOTHING` (a concurrent
 * insert of the same key, by any replica, waits for the first to commit and
 * then does nothing); a key seen before is read `FOR UPDATE` and decided by
 * claimDecision, so two claimers of a lapsed lease serialize and one wins.
 */
import type { ClaimInput, CompleteInput, IdempotencyClaim, IdempotencyStore, RenewInput } from '../idempotency.js'
import { claimDecision, claimLeaseUntil, renewDecision } from '../idempotency-rules.js'
import type { PgDatabase } from './pool.js'
import type { IdempotencyRow as Row } from '../sql-rows.js'

const INSERT = `INSERT INTO idempotency_keys (scope, key, fingerprint, state, status, body, created_at_ms, lease_until_ms)
                VALUES ($1, $2, $3, 'running', NULL, NULL, $4, $5)
                ON CONFLICT (scope, key) DO NOTHING`

export class PgIdempotencyStore implements IdempotencyStore {
  readonly #db: PgDatabase

  constructor(db: PgDatabase) {
    this.#db = db
  }

  async claim(input: ClaimInput): Promise<IdempotencyClaim> {
    for (;;) {
      // The common case, a new key, is one statement (claimDecision's unseen-key case, as an
      // INSERT that does nothing on a seen key); only a key seen before needs the transaction.
      const fresh = await this.#db.query(INSERT, [input.scope, input.key, input.fingerprint, input.nowMs, claimLeaseUntil(input)])
      if (fresh.rowCount === 1) return { state: 'claimed' }
      const seen = await this.#db.tx(async (tx) => {
        const row = (await tx.query<Row>(
          'SELECT fingerprint, state, status, body, lease_until_ms FROM idempotency_keys WHERE scope = $1 AND key = $2 FOR UPDATE',
          [input.scope, input.key],
        )).rows[0]
        // Deleted (abandoned, housekept) in between: start over with the INSERT.
        if (!row) return null
        const d = claimDecision({ ...row, leaseUntilMs: row.lease_until_ms }, input)
        if (d.write === 'renew') {
          await tx.query('UPDATE idempotency_keys SET lease_until_ms = $1 WHERE scope = $2 AND key = $3', [d.leaseUntilMs, input.scope, input.key])
        }
        return d.claim
      })
      if (seen) return seen
    }
  }

  async renew(input: RenewInput): Promise<boolean> {
    return this.#db.tx(async (tx) => {
      const row = (await tx.query<Pick<Row, 'state'>>('SELECT state FROM idempotency_keys WHERE scope = $1 AND key = $2 FOR UPDATE', [input.scope, input.key])).rows[0]
      const until = renewDecision(row ?? null, input)
      if (until === null) return false
      await tx.query('UPDATE idempotency_keys SET lease_until_ms = $1 WHERE scope = $2 AND key = $3', [until, input.scope, input.key])
      return true
    })
  }

  async complete(input: CompleteInput): Promise<void> {
    await this.#db.query("UPDATE idempotency_keys SET state = 'done', status = $1, body = $2 WHERE scope = $3 AND key = $4", [
      input.status, input.body, input.scope, input.key,
    ])
  }

  async abandon(scope: string, key: string): Promise<void> {
    await this.#db.query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'running'", [scope, key])
  }

  async deleteOlderThan(cutoffMs: number): Promise<number> {
    return (await this.#db.query('DELETE FROM idempotency_keys WHERE created_at_ms < $1', [cutoffMs])).rowCount ?? 0
  }
}
