/**
 * IdempotencyStore on PostgreSQL. Each key once: the primary key (scope,
 * key). A new key is one `INSERT ... ON CONFLICT DO NOTHING` (a concurrent
 * insert of the same key, by any replica, waits for the first to commit and
 * then does nothing); a key seen before is read `FOR UPDATE` and decided by
 * claimDecision, so two claimers of a lapsed lease serialize and one wins.
 *
 * One round trip per turn, not per request: the new-key INSERTs, the
 * completes and the abandons asked during one turn of the event loop (a
 * burst of vehicle requests, hub/requests/idempotent.ts) run as one
 * statement each over arrays (TurnBatch, base/turn-batch.ts), each an
 * autocommit statement as before: every caller's promise settles after the
 * statement committed. A batch whose statement fails runs again one key at
 * a time, so each caller gets what its key alone gets (one key the database
 * refuses, or one row another writer holds, fails or delays only its own
 * caller). Every batch's rows go in (scope, key) order, the same in every
 * replica, so two replicas' batches wait on each other's keys in one order
 * and never in a cycle. Claims of one key in
 * one process run one after the other (`#claiming`): a repeat asked in the
 * same turn as its first claim gets what it would get a moment later, never
 * a second `claimed`.
 */
import { TurnBatch, type Asked } from '../../../base/turn-batch.js'
import type { ClaimInput, CompleteInput, IdempotencyClaim, IdempotencyStore, RenewInput } from '../idempotency.js'
import { claimDecision, claimLeaseUntil, renewDecision } from '../idempotency-rules.js'
import type { PgDatabase } from './pool.js'
import type { IdempotencyRow as Row } from '../sql-rows.js'
import { oneQuestionMayCause } from './errors.js'

/** The new keys of a batch of claims: $1 scopes, $2 keys, $3 fingerprints, $4 nowMs, $5 lease ends; returns the keys it inserted. */
const INSERT_NEW = `
  INSERT INTO idempotency_keys (scope, key, fingerprint, state, status, body, created_at_ms, lease_until_ms)
  SELECT v.scope, v.key, v.fingerprint, 'running', NULL, NULL, v.created_at_ms, v.lease_until_ms
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS v (scope, key, fingerprint, created_at_ms, lease_until_ms)
      ON CONFLICT (scope, key) DO NOTHING
  RETURNING scope, key`

/** A batch of completes: $1 scopes, $2 keys, $3 statuses, $4 bodies. */
const COMPLETE = `
  UPDATE idempotency_keys k SET state = 'done', status = v.status, body = v.body
    FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS v (scope, key, status, body)
   WHERE k.scope = v.scope AND k.key = v.key`

/** A batch of abandons: $1 scopes, $2 keys. */
const ABANDON = `
  DELETE FROM idempotency_keys k
   USING unnest($1::text[], $2::text[]) AS v (scope, key)
   WHERE k.scope = v.scope AND k.key = v.key AND k.state = 'running'`

type ScopedKey = Pick<ClaimInput, 'scope' | 'key'>
const idOf = (k: ScopedKey): string => JSON.stringify([k.scope, k.key])
const byKey = (a: ScopedKey, b: ScopedKey): number => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

export class PgIdempotencyStore implements IdempotencyStore {
  readonly #db: PgDatabase
  /** Resolves true for a claim whose key its batch's INSERT inserted. */
  readonly #inserts: TurnBatch<ClaimInput, boolean>
  readonly #completes: TurnBatch<CompleteInput, void>
  readonly #abandons: TurnBatch<ScopedKey, void>
  /** The last claim asked of each key while one runs (by idOf): the next claim of the key waits for it. */
  readonly #claiming = new Map<string, Promise<IdempotencyClaim>>()

  constructor(db: PgDatabase) {
    this.#db = db
    // A batch that fails is run again one key at a time: one key the database refuses, or one row
    // another transaction holds, then fails only its own caller, as it did unbatched. A held row
    // delays every caller of its batch though: the batch waits out the lock timeout before the rest
    // are asked again alone.
    this.#inserts = new TurnBatch((batch) => this.#insertNew(batch), { aloneOnFailure: oneQuestionMayCause })
    this.#completes = new TurnBatch((batch) => this.#complete(batch), { aloneOnFailure: oneQuestionMayCause })
    this.#abandons = new TurnBatch((batch) => this.#abandon(batch), { aloneOnFailure: oneQuestionMayCause })
  }

  claim(input: ClaimInput): Promise<IdempotencyClaim> {
    const id = idOf(input)
    const earlier = this.#claiming.get(id)
    const run = (): Promise<IdempotencyClaim> => this.#claim(input)
    const mine = earlier ? earlier.then(run, run) : run()
    this.#claiming.set(id, mine)
    const forget = (): void => {
      if (this.#claiming.get(id) === mine) this.#claiming.delete(id)
    }
    mine.then(forget, forget)
    return mine
  }

  async #claim(input: ClaimInput): Promise<IdempotencyClaim> {
    for (;;) {
      // The common case, a new key, is one statement (claimDecision's unseen-key case, as an
      // INSERT that does nothing on a seen key); only a key seen before needs the transaction.
      if (await this.#inserts.ask(input)) return { state: 'claimed' }
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

  complete(input: CompleteInput): Promise<void> {
    return this.#completes.ask(input)
  }

  abandon(scope: string, key: string): Promise<void> {
    return this.#abandons.ask({ scope, key })
  }

  async deleteOlderThan(cutoffMs: number): Promise<number> {
    return (await this.#db.query('DELETE FROM idempotency_keys WHERE created_at_ms < $1', [cutoffMs])).rowCount ?? 0
  }

  /**
   * claimDecision's unseen-key case for a batch: one INSERT of every key, in (scope, key) order.
   * A key asked twice in the batch is inserted for its first asker only (the others then read
   * it, as they would after it).
   */
  async #insertNew(batch: Asked<ClaimInput, boolean>[]): Promise<void> {
    const rows = [...batch].sort((a, b) => byKey(a.question, b.question))
    const cols = [rows.map((r) => r.question.scope), rows.map((r) => r.question.key), rows.map((r) => r.question.fingerprint), rows.map((r) => r.question.nowMs), rows.map((r) => claimLeaseUntil(r.question))]
    const inserted = new Set((await this.#db.query<ScopedKey>(INSERT_NEW, cols)).rows.map(idOf))
    for (const a of batch) a.resolve(inserted.delete(idOf(a.question)))
  }

  /**
   * A batch of completes, in (scope, key) order as the claims (so two replicas completing the same
   * keys after a lapsed lease lock them in one order, never in a cycle); of one key asked twice,
   * the last answer stays (as one after the other).
   */
  async #complete(batch: Asked<CompleteInput, void>[]): Promise<void> {
    const last = [...new Map(batch.map((a) => [idOf(a.question), a.question])).values()].sort(byKey)
    await this.#db.query(COMPLETE, [last.map((c) => c.scope), last.map((c) => c.key), last.map((c) => c.status), last.map((c) => c.body)])
    for (const a of batch) a.resolve()
  }

  /** A batch of abandons, in (scope, key) order as the claims and completes. */
  async #abandon(batch: Asked<ScopedKey, void>[]): Promise<void> {
    const keys = batch.map((a) => a.question).sort(byKey)
    await this.#db.query(ABANDON, [keys.map((k) => k.scope), keys.map((k) => k.key)])
    for (const a of batch) a.resolve()
  }
}
