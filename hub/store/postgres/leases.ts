/**
 * LeaseStore on PostgreSQL: `acquire` is one conditional upsert (the rule
 * `mayAcquire` of ../lease-rules.ts as the upsert's WHERE). PostgreSQL runs
 * `INSERT ... ON CONFLICT DO UPDATE ... WHERE` atomically against concurrent
 * writers of the same row, so of replicas racing for one lease exactly one
 * gets a row back.
 */
import type { AcquireLeaseInput, LeaseStore } from '../leases.js'
import type { PgDatabase } from './pool.js'

export class PgLeaseStore implements LeaseStore {
  readonly #db: PgDatabase

  constructor(db: PgDatabase) {
    this.#db = db
  }

  async acquire(input: AcquireLeaseInput): Promise<boolean> {
    // rule: mayAcquire (lease-rules.ts): free, the caller's own, or expired.
    const res = await this.#db.query(
      `INSERT INTO leases (name, owner, expires_at_ms) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
       WHERE leases.owner = $2 OR leases.expires_at_ms <= $4`,
      [input.name, input.owner, input.nowMs + input.ttlMs, input.nowMs],
    )
    return (res.rowCount ?? 0) > 0
  }

  async renewAll(input: { owner: string; nowMs: number; ttlMs: number }): Promise<number> {
    const res = await this.#db.query('UPDATE leases SET expires_at_ms = $1 WHERE owner = $2', [input.nowMs + input.ttlMs, input.owner])
    return res.rowCount ?? 0
  }

  async release(name: string, owner: string): Promise<void> {
    await this.#db.query('DELETE FROM leases WHERE name = $1 AND owner = $2', [name, owner])
  }

  async deleteExpired(nowMs: number): Promise<number> {
    const res = await this.#db.query('DELETE FROM leases WHERE expires_at_ms <= $1', [nowMs])
    return res.rowCount ?? 0
  }
}
