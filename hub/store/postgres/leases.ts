/**
 * LeaseStore on PostgreSQL: `acquire` is one conditional upsert (the rule
 * `mayAcquire` of ../lease-rules.ts as the upsert's WHERE). PostgreSQL runs
 * `INSERT ... ON CONFLICT DO UPDATE ... WHERE` atomically against concurrent
 * writers of the same row, so of replicas racing for one lease exactly one
 * gets a row back.
 *
 * The acquires and the releases asked during one turn (a lease per trip a
 * hub coordinates, hub/trips/coordinator.ts) run as one statement each over
 * arrays (TurnBatch, base/turn-batch.ts), each caller's row judged at its own
 * clock, in name order (the same in every replica, so two replicas' batches
 * never wait on each other in a cycle). A batch whose statement fails (the
 * same name twice in one upsert, a value the database refuses) runs again
 * one lease at a time.
 */
import { TurnBatch, type Asked } from '../../../base/turn-batch.js'
import type { AcquireLeaseInput, LeaseStore } from '../leases.js'
import type { PgDatabase } from './pool.js'
import { asStored, byKey } from './batch-keys.js'
import { oneQuestionMayCause } from './errors.js'

/** A batch of acquires: $1 names, $2 owners, $3 new expiries, $4 the callers' clocks; returns the names acquired. */
const ACQUIRE = `
  WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS v (name, owner, expires_at_ms, now_ms))
  INSERT INTO leases AS l (name, owner, expires_at_ms)
  SELECT name, owner, expires_at_ms FROM v ORDER BY name
      ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
   -- rule: mayAcquire (lease-rules.ts): free, the caller's own, or expired at the caller's clock.
   WHERE l.owner = excluded.owner OR l.expires_at_ms <= (SELECT v.now_ms FROM v WHERE v.name = excluded.name)
  RETURNING name`

/** A batch of releases: $1 names, $2 owners (a lease is given back only by its owner). */
const RELEASE = `
  WITH v AS (
    SELECT * FROM unnest($1::text[], $2::text[]) AS v (name, owner)
  ), locked AS (
    -- The rows locked in name order, as ACQUIRE's, before the DELETE removes any (its plan's order is not the arrays').
    SELECT l.name FROM leases l JOIN v ON l.name = v.name AND l.owner = v.owner ORDER BY l.name FOR UPDATE OF l
  )
  DELETE FROM leases l
   USING v
   WHERE l.name = v.name AND l.owner = v.owner AND l.name IN (SELECT name FROM locked)`

type Release = { name: string; owner: string }
const byName = byKey((l: { name: string }) => l.name)

export class PgLeaseStore implements LeaseStore {
  readonly #db: PgDatabase
  readonly #acquires: TurnBatch<AcquireLeaseInput, boolean>
  readonly #releases: TurnBatch<Release, void>

  constructor(db: PgDatabase) {
    this.#db = db
    this.#acquires = new TurnBatch((batch) => this.#acquire(batch), { aloneOnFailure: oneQuestionMayCause })
    this.#releases = new TurnBatch((batch) => this.#release(batch), { aloneOnFailure: oneQuestionMayCause })
  }

  acquire(input: AcquireLeaseInput): Promise<boolean> {
    return this.#acquires.ask(input)
  }

  async #acquire(batch: Asked<AcquireLeaseInput, boolean>[]): Promise<void> {
    const rows = batch.map((a) => a.question).sort(byName)
    const res = await this.#db.query<{ name: string }>(ACQUIRE, [
      rows.map((r) => r.name),
      rows.map((r) => r.owner),
      rows.map((r) => r.nowMs + r.ttlMs),
      rows.map((r) => r.nowMs),
    ])
    const got = new Set(res.rows.map((r) => r.name))
    for (const a of batch) a.resolve(got.has(asStored(a.question.name)))
  }

  async renewAll(input: { owner: string; nowMs: number; ttlMs: number }): Promise<number> {
    // In name order, as the batches lock (a plan's order could close a cycle with another replica's batch).
    const res = await this.#db.query(
      `WITH locked AS (SELECT name FROM leases WHERE owner = $2 ORDER BY name FOR NO KEY UPDATE)
       UPDATE leases SET expires_at_ms = $1 WHERE owner = $2 AND name IN (SELECT name FROM locked)`,
      [input.nowMs + input.ttlMs, input.owner],
    )
    return res.rowCount ?? 0
  }

  release(name: string, owner: string): Promise<void> {
    return this.#releases.ask({ name, owner })
  }

  async #release(batch: Asked<Release, void>[]): Promise<void> {
    const rows = batch.map((a) => a.question).sort(byName)
    await this.#db.query(RELEASE, [rows.map((r) => r.name), rows.map((r) => r.owner)])
    for (const a of batch) a.resolve()
  }

  async deleteExpired(nowMs: number): Promise<number> {
    const res = await this.#db.query(
      `WITH locked AS (SELECT name FROM leases WHERE expires_at_ms <= $1 ORDER BY name FOR UPDATE)
       DELETE FROM leases WHERE expires_at_ms <= $1 AND name IN (SELECT name FROM locked)`,
      [nowMs],
    )
    return res.rowCount ?? 0
  }
}
