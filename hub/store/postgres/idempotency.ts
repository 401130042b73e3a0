/**
 * IdempotencyStore on PostgreSQL. Each key once: the primary key (scope,
 * key). A new key is one `INSERT ... ON CONFLICT DO NOTHING` (a concurrent
 * insert of the same key, by any replica, waits for the first to commit and
 * then does nothing); a key seen before is read `FOR UPDATE` and decided by
 * claimDecision, so two claimers of a lapsed lease serialize and one wins.
 * Renew, complete and abandon are compare-and-set on the claim's owner
 * (ownsRunning as each statement's condition): one statement, no read.
 *
 * One round trip per turn, not per request: the new-key INSERTs, the
 * completes and the abandons asked during one turn of the event loop (a
 * burst of vehicle requests, hub/requests/idempotent.ts) run as one
 * statement each over arrays (TurnBatch, base/turn-batch.ts), each an
 * autocommit statement as before: every caller's promise settles after the
 * statement committed. A batch whose statement fails runs again one key at
 * a time, so each caller gets what its key alone gets (each complete and
 * abandon learns whether its own row applied: RETURNING the rows it changed) (one key the database
 * refuses, or one row another writer holds, fails or delays only its own
 * caller). Every batch's rows go in (scope, key) order, the same in every
 * replica, so two replicas' batches wait on each other's keys in one order
 * and never in a cycle. Claims of one key in
 * one process run one after the other (`#claiming`): a repeat asked in the
 * same turn as its first claim gets what it would get a moment later, never
 * a second `claimed`.
 */
import { TurnBatch, type Asked } from '../../../base/turn-batch.js'
import type { ClaimInput, CompleteInput, IdempotencyClaim, IdempotencyStore, OwnedKey, RenewInput } from '../idempotency.js'
import { ABANDONED, claimDecision, claimLeaseUntil } from '../idempotency-rules.js'
import type { PgDatabase } from './pool.js'
import type { IdempotencyRow as Row } from '../sql-rows.js'
import { oneQuestionMayCause } from './errors.js'

/** The new keys of a batch of claims: $1 scopes, $2 keys, $3 fingerprints, $4 nowMs, $5 lease ends, $6 owners; returns the keys it inserted. */
const INSERT_NEW = `
  INSERT INTO idempotency_keys (scope, key, fingerprint, state, status, body, created_at_ms, lease_until_ms, owner)
  SELECT v.scope, v.key, v.fingerprint, 'running', NULL, NULL, v.created_at_ms, v.lease_until_ms, v.owner
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[]) AS v (scope, key, fingerprint, created_at_ms, lease_until_ms, owner)
      ON CONFLICT (scope, key) DO NOTHING
  RETURNING scope, key`

/** A renewal (ownsRunning as its condition): $1 lease end, $2 scope, $3 key, $4 owner. */
const RENEW = `UPDATE idempotency_keys SET lease_until_ms = $1 WHERE scope = $2 AND key = $3 AND owner = $4 AND state = 'running'`

/** A batch of completes (each only of its owner's running claim): $1 scopes, $2 keys, $3 owners, $4 statuses, $5 bodies; returns the rows it completed. */
const COMPLETE = `
  UPDATE idempotency_keys k SET state = 'done', status = v.status, body = v.body
    FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[]) AS v (scope, key, owner, status, body)
   WHERE k.scope = v.scope AND k.key = v.key AND k.owner = v.owner AND k.state = 'running'
  RETURNING k.scope, k.key, k.owner`

/**
 * A batch of abandons (each only of its owner's running claim): $1 scopes, $2 keys, $3 owners;
 * returns the claims it gave up (as they were). Rule: ABANDONED (idempotency-rules.ts): the key stays,
 * its claim lapsed and owned by no run.
 */
const ABANDON = `
  UPDATE idempotency_keys k SET owner = '${ABANDONED.owner}', lease_until_ms = ${ABANDONED.leaseUntilMs}
    FROM unnest($1::text[], $2::text[], $3::text[]) AS v (scope, key, owner)
   WHERE k.scope = v.scope AND k.key = v.key AND k.owner = v.owner AND k.state = 'running'
  RETURNING k.scope, k.key, v.owner`

type ScopedKey = Pick<ClaimInput, 'scope' | 'key'>
const idOf = (k: ScopedKey): string => JSON.stringify([k.scope, k.key])
const ownedIdOf = (k: OwnedKey): string => JSON.stringify([k.scope, k.key, k.owner])
const byKey = (a: ScopedKey, b: ScopedKey): number => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

export class PgIdempotencyStore implements IdempotencyStore {
  readonly #db: PgDatabase
  /** Resolves true for a claim whose key its batch's INSERT inserted. */
  readonly #inserts: TurnBatch<ClaimInput, boolean>
  /** Each resolves whether its own row applied. */
  readonly #completes: TurnBatch<CompleteInput, boolean>
  readonly #abandons: TurnBatch<OwnedKey, boolean>
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
      if (await this.#inserts.ask(input)) return { state: 'claimed', firstClaimedAtMs: input.nowMs }
      const seen = await this.#db.tx(async (tx) => {
        const row = (await tx.query<Row>(
          'SELECT fingerprint, state, status, body, lease_until_ms, owner, created_at_ms FROM idempotency_keys WHERE scope = $1 AND key = $2 FOR UPDATE',
          [input.scope, input.key],
        )).rows[0]
        // Deleted (abandoned, housekept) in between: start over with the INSERT.
        if (!row) return null
        const d = claimDecision({ ...row, leaseUntilMs: row.lease_until_ms, createdAtMs: row.created_at_ms }, input)
        if (d.write === 'take') {
          await tx.query('UPDATE idempotency_keys SET lease_until_ms = $1, owner = $2 WHERE scope = $3 AND key = $4', [d.leaseUntilMs, input.owner, input.scope, input.key])
        }
        return d.claim
      })
      if (seen) return seen
    }
  }

  async renew(input: RenewInput): Promise<boolean> {
    return ((await this.#db.query(RENEW, [claimLeaseUntil(input), input.scope, input.key, input.owner])).rowCount ?? 0) > 0
  }

  complete(input: CompleteInput): Promise<boolean> {
    return this.#completes.ask(input)
  }

  abandon(input: OwnedKey): Promise<boolean> {
    return this.#abandons.ask({ scope: input.scope, key: input.key, owner: input.owner })
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
    const cols = [rows.map((r) => r.question.scope), rows.map((r) => r.question.key), rows.map((r) => r.question.fingerprint), rows.map((r) => r.question.nowMs), rows.map((r) => claimLeaseUntil(r.question)), rows.map((r) => r.question.owner)]
    const inserted = new Set((await this.#db.query<ScopedKey>(INSERT_NEW, cols)).rows.map(idOf))
    for (const a of batch) a.resolve(inserted.delete(idOf(a.question)))
  }

  /**
   * A batch of completes, in (scope, key) order as the claims (so two replicas completing the same
   * keys after a lapsed lease lock them in one order, never in a cycle). Each caller learns whether
   * its own row was completed; of one claim (key and owner) completed twice, the first answer
   * stays and the repeat is not stored (as one after the other: the key is done by then).
   */
  async #complete(batch: Asked<CompleteInput, boolean>[]): Promise<void> {
    const first = firstPerClaim(batch)
    const rows = [...first.values()].map((a) => a.question).sort(byKey)
    const done = await this.#db.query<OwnedKey>(COMPLETE, [rows.map((c) => c.scope), rows.map((c) => c.key), rows.map((c) => c.owner), rows.map((c) => c.status), rows.map((c) => c.body)])
    resolveApplied(batch, first, done.rows)
  }

  /** A batch of abandons, in (scope, key) order as the claims and completes; each caller learns whether its own claim was forgotten. */
  async #abandon(batch: Asked<OwnedKey, boolean>[]): Promise<void> {
    const first = firstPerClaim(batch)
    const rows = [...first.values()].map((a) => a.question).sort(byKey)
    const gone = await this.#db.query<OwnedKey>(ABANDON, [rows.map((k) => k.scope), rows.map((k) => k.key), rows.map((k) => k.owner)])
    resolveApplied(batch, first, gone.rows)
  }
}

/** The first asker of each claim (scope, key, owner) in a batch, by ownedIdOf. */
function firstPerClaim<Q extends OwnedKey>(batch: Asked<Q, boolean>[]): Map<string, Asked<Q, boolean>> {
  const first = new Map<string, Asked<Q, boolean>>()
  for (const a of batch) if (!first.has(ownedIdOf(a.question))) first.set(ownedIdOf(a.question), a)
  return first
}

/** Resolve true for the first asker of each claim the statement changed (`applied`), false for every other. */
function resolveApplied<Q extends OwnedKey>(batch: Asked<Q, boolean>[], first: Map<string, Asked<Q, boolean>>, applied: OwnedKey[]): void {
  const changed = new Set(applied.map(ownedIdOf))
  for (const a of batch) a.resolve(first.get(ownedIdOf(a.question)) === a && changed.has(ownedIdOf(a.question)))
}
