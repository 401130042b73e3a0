/**
 * Two replicas (two PostgresStore pools on one schema) writing overlapping
 * rows in their turns' batches must not wait on each other in a cycle: each
 * batch locks its rows in id order, whatever plan PostgreSQL picks for it.
 *
 * An `UPDATE ... FROM unnest(...)` locks rows in the order of its plan, not
 * of its arrays: a batch of a few ids is a nested loop over the arrays (id
 * order), a batch of a few dozen a hash join over a scan of the table
 * (the order the rows lie in the table). Rows lying in the table against
 * id order (as after updates) make the two replicas lock in opposite orders.
 */
import t, { type Test } from 'tap'
import pg from 'pg'
import type { PostgresStore } from '../hub/store/index.js'
import type { TripRecord } from '../hub/store/trips.js'
import { StoreError } from '../hub/store/errors.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'

const skip = await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${skip}`)

const T = Date.parse('2026-12-01T08:00:00Z')
const id = (i: number): string => `trip-${String(i).padStart(4, '0')}`
const tripOf = (i: number, state = 'trying'): TripRecord => ({
  tripId: id(i),
  vehicleId: 'V1',
  routeId: 'r1',
  txStartedAtMs: T,
  attempt: 1,
  state: state as TripRecord['state'],
  legs: [],
  failure: null,
  createdAtMs: T,
  updatedAtMs: T + 1,
})

/** The errors of the store's statements (a deadlock's victim is answered again alone, so its callers never see it). */
function statementErrors(store: PostgresStore): unknown[] {
  const { query } = store.db
  const errors: unknown[] = []
  store.db.query = (async (text: string, values?: unknown[], o?: Parameters<typeof query>[2]) => {
    try {
      return await query.call(store.db, text, values, o)
    } catch (err) {
      errors.push(err)
      throw err
    }
  }) as typeof store.db.query
  return errors
}

const sqlState = (err: unknown): string => {
  const cause = err instanceof StoreError ? (err as { cause?: unknown }).cause : err
  return typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : ''
}

/**
 * Two replicas (two pools) on one new schema whose `table` holds 1000 rows that `fill` inserts
 * ($1 = T) lying against key order (a scan meets them backwards), while another session holds
 * the row whose `keyColumn` is `held`: what each replica then asks waits for it. `untilBothWait`
 * returns once two statements wait on a lock; `letGo` ends the other session's transaction.
 */
async function rowsLyingBackwards(t: Test, table: string, keyColumn: string, fill: (schema: string) => string, held: string): Promise<{
  a: PostgresStore
  b: PostgresStore
  sql: <R extends pg.QueryResultRow>(text: (schema: string) => string, values?: unknown[]) => Promise<R[]>
  untilBothWait: () => Promise<number>
  letGo: () => Promise<void>
}> {
  const db = await tempPostgres()
  t.teardown(() => db.dispose())
  const schema = db.schema()
  const a = await schema.open({ max: 4 })
  const b = await schema.open({ max: 4 })
  await db.sql(fill(schema.name), [T])
  await db.sql(`ANALYZE ${schema.name}.${table}`)
  const other = new pg.Client({ connectionString: db.url })
  await other.connect()
  t.teardown(() => other.end())
  await other.query('BEGIN')
  await other.query(`SELECT 1 FROM ${schema.name}.${table} WHERE ${keyColumn} = $1 FOR UPDATE`, [held])
  const waiting = async (): Promise<number> =>
    Number((await db.sql<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`, [db.database])).rows[0]!.n)
  return {
    a,
    b,
    sql: async <R extends pg.QueryResultRow>(text: (schema: string) => string, values?: unknown[]) => (await db.sql<R>(text(schema.name), values)).rows,
    untilBothWait: async () => {
      for (let i = 0; i < 200 && (await waiting()) < 2; i++) await new Promise((r) => setTimeout(r, 10))
      return waiting()
    },
    letGo: async () => void (await other.query('COMMIT')),
  }
}

t.test('two replicas saving overlapping trips in their turns never deadlock, whatever plan each batch gets', { skip: skip ?? false }, async (t) => {
  // 1000 trips lying in the table against id order (the last id first); another writer holds trip 2 for a moment, so that both batches are under way when it lets go.
  const { a, b, untilBothWait, letGo } = await rowsLyingBackwards(t, 'trips', 'trip_id', (schema) => `
    INSERT INTO ${schema}.trips (trip_id, vehicle_id, route_id, tx_started_at_ms, attempt, state, legs_json, failure_json, created_at_ms, updated_at_ms)
    SELECT 'trip-' || lpad(i::text, 4, '0'), 'V1', 'r1', $1, 1, 'trying', '[]', NULL, $1, $1 FROM generate_series(1000, 1, -1) AS i`, id(2))
  const errorsA = statementErrors(a)
  const errorsB = statementErrors(b)
  // Replica a: trips 1-3 (a nested loop over the arrays); replica b: trips 1-40 (a hash join over the table).
  const savesA = [1, 2, 3].map((i) => a.trips.saveTrip(tripOf(i, 'confirming')))
  const savesB = Array.from({ length: 40 }, (_, i) => b.trips.saveTrip(tripOf(i + 1, 'aborted')))
  t.equal(await untilBothWait(), 2, 'both batches wait for trip 2')
  await letGo()

  const answers = await Promise.all([...savesA, ...savesB])
  t.ok(answers.every((x) => x === true), 'every save is written')
  t.same([...errorsA, ...errorsB].map(sqlState).filter((c) => c === '40P01'), [], 'no batch was a deadlock\'s victim')
})

t.test('two replicas writing overlapping peer-hold entries in their turns never deadlock, whatever plan each batch gets', { skip: skip ?? false }, async (t) => {
  const hold = (i: number): string => `h-${String(i).padStart(4, '0')}`
  // 1000 placed entries lying in the table against id order.
  const { a, b, sql, untilBothWait, letGo } = await rowsLyingBackwards(t, 'peer_holds', 'hold_id', (schema) => `
    INSERT INTO ${schema}.peer_holds (hold_id, peer_hub_id, state, tx_id, vehicle_id, station_id, lat, lon, at_ms, expires_at_ms, reservation_id, created_at_ms, updated_at_ms)
    SELECT 'h-' || lpad(i::text, 4, '0'), 'feira', 'placed', 't-' || i, 'V1', 'S1', 1, 2, $1::bigint + 3600000, $1::bigint + 60000, NULL, $1, $1 FROM generate_series(1000, 1, -1) AS i`, hold(2))
  const errorsA = statementErrors(a)
  const errorsB = statementErrors(b)
  const confirmsA = [1, 2, 3].map((i) => a.trips.peerHoldConfirmed({ holdId: hold(i), reservationId: `ra-${i}`, nowMs: T + 1 }))
  const confirmsB = Array.from({ length: 40 }, (_, i) => b.trips.peerHoldConfirmed({ holdId: hold(i + 1), reservationId: `rb-${i + 1}`, nowMs: T + 1 }))
  t.equal(await untilBothWait(), 2, 'both batches wait for entry 2')
  await letGo()

  const answers = await Promise.all([...confirmsA, ...confirmsB])
  t.equal(answers.length, 43, 'every transition is answered')
  t.same([...errorsA, ...errorsB].map(sqlState).filter((c) => c === '40P01'), [], 'no batch was a deadlock\'s victim')
  const [confirmed] = await sql<{ n: string }>((schema) => `SELECT count(*) AS n FROM ${schema}.peer_holds WHERE state = 'confirmed'`)
  t.equal(Number(confirmed!.n), 40, 'each entry confirmed once')
})

const leaseName = (i: number): string => `trip:${String(i).padStart(4, '0')}`
/** 1000 leases of replica a, expired at T, lying in the table against name order; lease 2 held by another session. */
const leasesLyingBackwards = (t: Test) =>
  rowsLyingBackwards(t, 'leases', 'name', (schema) => `INSERT INTO ${schema}.leases (name, owner, expires_at_ms) SELECT 'trip:' || lpad(i::text, 4, '0'), 'replica-a', $1 FROM generate_series(1000, 1, -1) AS i`, leaseName(2))

t.test('a replica giving its leases back and another taking them over once expired never deadlock, whatever plan each batch gets', { skip: skip ?? false }, async (t) => {
  const { a, b, untilBothWait, letGo } = await leasesLyingBackwards(t)
  const errorsA = statementErrors(a)
  const errorsB = statementErrors(b)
  const releases = Array.from({ length: 40 }, (_, i) => a.leases.release(leaseName(i + 1), 'replica-a'))
  const acquires = [1, 2, 3].map((i) => b.leases.acquire({ name: leaseName(i), owner: 'replica-b', nowMs: T, ttlMs: 15_000 }))
  t.equal(await untilBothWait(), 2, 'both batches wait for lease 2')
  await letGo()

  await Promise.all([...releases, ...acquires])
  t.same([...errorsA, ...errorsB].map(sqlState).filter((c) => c === '40P01'), [], 'no batch was a deadlock\'s victim')
})

t.test('a replica renewing its leases and another taking some over once expired never deadlock, whatever plan the renewal gets', { skip: skip ?? false }, async (t) => {
  const { a, b, sql, untilBothWait, letGo } = await leasesLyingBackwards(t)
  const errorsA = statementErrors(a)
  const errorsB = statementErrors(b)
  const renewal = a.leases.renewAll({ owner: 'replica-a', nowMs: T + 1, ttlMs: 15_000 }).catch((err: unknown) => err)
  const acquires = [1, 2, 3].map((i) => b.leases.acquire({ name: leaseName(i), owner: 'replica-b', nowMs: T + 1, ttlMs: 15_000 }))
  t.equal(await untilBothWait(), 2, 'the renewal and the batch both wait')
  await letGo()

  const renewed = await renewal
  const taken = await Promise.all(acquires)
  t.same([...errorsA, ...errorsB].map(sqlState).filter((c) => c === '40P01'), [], 'neither was a deadlock\'s victim')
  t.equal(typeof renewed, 'number', 'the renewal answered')
  // Whichever went first, each of the three leases has one owner, and a renewal never loses one it kept.
  const owners = await sql<{ name: string; owner: string }>((schema) => `SELECT name, owner FROM ${schema}.leases WHERE name = ANY($1) ORDER BY name`, [[1, 2, 3].map(leaseName)])
  t.equal(owners.length, 3)
  t.same(owners.map((o) => o.owner === 'replica-b'), taken, 'a lease is replica b\'s exactly when its acquire said so')
})
