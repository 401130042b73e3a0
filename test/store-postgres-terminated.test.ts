/**
 * A batched statement whose backend is killed under it (pg_terminate_backend,
 * an operator or a failover ending the hub's connections) while it waits on a
 * row another session holds: every caller of the batch gets StoreError
 * UNAVAILABLE at once (not each again alone), nothing of the batch is written,
 * and the same store answers the same calls afterwards without a restart.
 */
import t from 'tap'
import pg from 'pg'
import { StoreError } from '../hub/store/index.js'
import type { TripRecord } from '../hub/store/trips.js'
import { waitUntil } from './helpers/net.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'

const skip = await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${skip}`)

const T = Date.parse('2026-12-01T08:00:00Z')
const tripOf = (i: number): TripRecord => ({
  tripId: `trip-${i}`,
  vehicleId: `V${i}`,
  routeId: 'r1',
  txStartedAtMs: T,
  attempt: 1,
  state: 'trying',
  legs: [],
  failure: null,
  createdAtMs: T,
  updatedAtMs: T,
})

t.test('a burst of 64 trip creates whose statement is terminated while it waits on a row lock: all 64 fail UNAVAILABLE, none is written, the store then creates them all', { skip: skip ?? false }, async (t) => {
  const db = await tempPostgres()
  t.teardown(() => db.dispose())
  const schema = db.schema()
  const store = await schema.open({ max: 4 })
  // Another session inserts one of the burst's ids and keeps its transaction open: the batch's INSERT waits on it.
  const blocker = new pg.Client({ connectionString: db.url, options: `-c search_path=${schema.name}` })
  await blocker.connect()
  t.teardown(() => blocker.end())
  await blocker.query('BEGIN')
  await blocker.query(`INSERT INTO trips (trip_id, vehicle_id, route_id, tx_started_at_ms, attempt, state, legs_json, created_at_ms, updated_at_ms) VALUES ('trip-5', 'V5', 'r1', $1, 1, 'trying', '[]', $1, $1)`, [T])

  const burst = Array.from({ length: 64 }, (_, i) => store.trips.createTrip(tripOf(i)).then(() => 'ok', (err: unknown) => err))
  const waiting = await waitUntil(async () => {
    const r = await db.sql<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'voltway-hub' AND wait_event_type = 'Lock'`, [db.database])
    return r.rows.length === 1 ? r.rows[0] : null
  }, 4000, "the batch's statement waiting on the other session's row")
  await db.sql('SELECT pg_terminate_backend($1)', [waiting.pid])
  const outcomes = await Promise.all(burst)
  t.same([...new Set(outcomes.map((o) => (o instanceof StoreError ? o.code : String(o))))], ['UNAVAILABLE'], 'every caller of the batch gets StoreError UNAVAILABLE')
  await blocker.query('ROLLBACK')
  const written = await db.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema.name}.trips`)
  t.equal(written.rows[0]?.n, 0, 'nothing of the batch was written')

  const again = await Promise.all(Array.from({ length: 64 }, (_, i) => store.trips.createTrip(tripOf(i)).then(() => 'ok', (err: unknown) => err)))
  t.same([...new Set(again)], ['ok'], 'the same store creates the 64 trips afterwards, without a restart')
  const after = await db.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema.name}.trips`)
  t.equal(after.rows[0]?.n, 64, 'each once')
})
