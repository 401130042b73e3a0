/**
 * A request that took effect and was answered, but whose answer the
 * database would not take at that moment (its row held by another session
 * past the lock timeout, or every pooled connection waiting on rows other
 * sessions hold: StoreError BUSY), must still answer that same answer when
 * its id is sent again, and act once (docs/protocol.md "Repeated requests").
 * On PostgreSQL, with the hub's own handlers and idempotency store.
 */
import t from 'tap'
import pg from 'pg'
import { pino } from 'pino'
import { TestClock } from '../hub/clock.js'
import { coreOpHandlers, createHubContext } from '../hub/ops/index.js'
import { idempotentOps, keyedOpsFor } from '../hub/requests/idempotent.js'
import type { PostgresStore } from '../hub/store/index.js'
import { OPS, type HandlerTable, type OpHandler } from '../protocol/index.js'
import { waitUntil } from './helpers/net.js'
import { HERE, NOW, testConfig } from './helpers/store-hub.js'
import { postgresSkipReason, tempPostgres, type TempPostgres } from './helpers/store-postgres.js'

const skip = await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${skip}`)

const LEASE_MS = 2000

type Teardowns = { teardown(fn: () => unknown): void }

/** A hub's request path on a fresh schema: `afterCancel` runs once reservation.cancel took effect, before its answer is recorded. */
async function hubOn(db: TempPostgres, t: Teardowns, o: { poolSize: number; busyTimeoutMs: number }) {
  const schema = db.schema()
  t.teardown(() => schema.dispose())
  // Short waits so the test is quick (the defaults are 5 s each).
  const store: PostgresStore = await schema.open({ max: o.poolSize, busyTimeoutMs: o.busyTimeoutMs, connectTimeoutMs: 300 })
  const clock = new TestClock(NOW)
  const ctx = createHubContext({ config: testConfig(), store, clock })
  const core = coreOpHandlers(ctx)
  const hooks: { afterCancel: (() => Promise<void>) | null } = { afterCancel: null }
  const table = {
    ...core,
    'reservation.cancel': async (args: never, req: never) => {
      const out = await (core['reservation.cancel'] as OpHandler<'reservation.cancel'>)(args, req)
      await hooks.afterCancel?.()
      return out
    },
  } as HandlerTable
  const handlers = idempotentOps(table, { store: store.idempotency, clock, logger: pino({ enabled: false }), leaseMs: LEASE_MS, waitMs: 0, keyedOps: keyedOpsFor(store) })
  const at = (minutes: number): string => new Date(clock.now() + minutes * 60_000).toISOString().replace('.000Z', 'Z')
  const create = async (requestId: string, minutes: number): Promise<string> => {
    const out = await (handlers['reservation.create'] as OpHandler<'reservation.create'>)(OPS['reservation.create'].args.parse({ at: at(minutes), position: HERE, rangeKm: 50, stationId: 'NEAR' }), { hubId: 'feira', vehicleId: 'V1', requestId, op: 'reservation.create' })
    return out.reservation.reservationId
  }
  const cancel = (requestId: string, reservationId: string): Promise<unknown> =>
    (handlers['reservation.cancel'] as OpHandler<'reservation.cancel'>)({ reservationId }, { hubId: 'feira', vehicleId: 'V1', requestId, op: 'reservation.cancel' }).catch((e: unknown) => e)
  return { store, clock, hooks, create, cancel, schema: schema.name }
}

/** Another session (an operator's psql, a stuck job) that takes row locks and keeps them until `release`. */
async function otherSession(db: TempPostgres, schema: string, t: Teardowns) {
  const c = new pg.Client({ connectionString: db.url, options: `-c search_path=${schema}` })
  await c.connect()
  t.teardown(() => c.end())
  await c.query('BEGIN')
  return {
    lock: (sql: string, values: unknown[]) => c.query(sql, values),
    release: () => c.query('COMMIT'),
  }
}

/**
 * Whether the answer of 'cancel-1' gets recorded before its claim would lapse: half a lease of the
 * test clock passes (the timers due in it fire: renewals, retries), then up to 10 s of real time
 * for what they started.
 */
async function recordedInTime(db: TempPostgres, hub: { clock: TestClock; schema: string }): Promise<boolean> {
  hub.clock.advance(LEASE_MS / 2)
  return waitUntil(async () => {
    const r = await db.sql<{ state: string }>(`SELECT state FROM ${hub.schema}.idempotency_keys WHERE key = 'cancel-1'`)
    return r.rows[0]?.state === 'done'
  }, 10_000, 'the answer recorded').then(() => true, () => false)
}

const skipIt = { skip: skip ?? false }

t.test('a cancel answered {cancelled: 1} whose answer row another session held past the lock timeout: its repeat answers {cancelled: 1} again, not NOT_FOUND', skipIt, async (t) => {
  const db = await tempPostgres()
  t.teardown(() => db.dispose())
  const hub = await hubOn(db, t, { poolSize: 4, busyTimeoutMs: 300 })
  const r1 = await hub.create('book-1', 180)
  const other = await otherSession(db, hub.schema, t)
  hub.hooks.afterCancel = async () => {
    hub.hooks.afterCancel = null
    // The request's own key row, 'running' now: the write of its answer waits for it.
    await other.lock(`SELECT 1 FROM idempotency_keys WHERE scope = 'vehicle:V1' AND key = 'cancel-1' FOR UPDATE`, [])
  }
  const first = await hub.cancel('cancel-1', r1)
  t.same(first, { cancelled: 1 }, 'the cancel took effect and was answered')
  await other.release()
  t.ok(await recordedInTime(db, hub), 'once the other session let go, the answer is recorded within the claim lease')
  // The vehicle never got that answer (lost on the way, or it timed out meanwhile) and asks again once the claim would have lapsed.
  hub.clock.advance(LEASE_MS)
  const again = await hub.cancel('cancel-1', r1)
  t.same(again, first, 'the repeat is answered what the first run answered')
})

t.test('a cancel answered {cancelled: 1} while every pooled connection waited on rows another session held: its repeat answers {cancelled: 1} again, and cancels nothing more', skipIt, async (t) => {
  const db = await tempPostgres()
  t.teardown(() => db.dispose())
  const POOL = 2
  // The other session's locks outlast the wait for a pooled connection: the pool stays full that long.
  const hub = await hubOn(db, t, { poolSize: POOL, busyTimeoutMs: 1500 })
  const mine = await hub.create('book-1', 180)
  const held = [await hub.create('book-2', 360), await hub.create('book-3', 540)]
  const other = await otherSession(db, hub.schema, t)
  // Another session holds two unrelated reservations; two cancels of them take the pool's two connections, waiting.
  await other.lock('SELECT 1 FROM reservations WHERE reservation_id = ANY($1) FOR UPDATE', [held])
  const stuck: Array<Promise<unknown>> = []
  hub.hooks.afterCancel = async () => {
    hub.hooks.afterCancel = null
    for (const r of held) stuck.push(hub.store.reservations.cancelReservation(r, 'V1').catch((e: unknown) => e))
    await waitUntil(async () => {
      const w = await db.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'voltway-hub' AND wait_event_type = 'Lock'`)
      return w.rows[0]?.n === POOL
    }, 10_000, 'every pooled connection waiting on a lock')
  }
  const first = await hub.cancel('cancel-1', mine)
  t.same(first, { cancelled: 1 }, 'the cancel took effect and was answered')
  await Promise.all(stuck)
  await other.release()
  t.ok(await recordedInTime(db, hub), 'once the pool is free again, the answer is recorded within the claim lease')
  hub.clock.advance(LEASE_MS)
  const again = await hub.cancel('cancel-1', mine)
  t.same(again, first, 'the repeat is answered what the first run answered')
})

t.test('a replica whose claim lapsed while it stalled (its renewals stuck) and that finishes after another replica ran the same request id: every answer of that id is the one answer', skipIt, async (t) => {
  const db = await tempPostgres()
  t.teardown(() => db.dispose())
  const hub = await hubOn(db, t, { poolSize: 4, busyTimeoutMs: 300 })
  const r1 = await hub.create('book-1', 180)
  // Replica a: the same database and clock, its renewals stuck (a pool full of lock waits, a paused process) and its
  // run of the cancel held before it acts.
  let go: () => void = () => undefined
  const gate = new Promise<void>((r) => (go = r))
  let entered: () => void = () => undefined
  const inside = new Promise<void>((r) => (entered = r))
  const core = coreOpHandlers(createHubContext({ config: testConfig(), store: hub.store, clock: hub.clock }))
  const stalled = { ...hub.store.idempotency, claim: hub.store.idempotency.claim.bind(hub.store.idempotency), complete: hub.store.idempotency.complete.bind(hub.store.idempotency), abandon: hub.store.idempotency.abandon.bind(hub.store.idempotency), deleteOlderThan: hub.store.idempotency.deleteOlderThan.bind(hub.store.idempotency), renew: () => new Promise<boolean>(() => undefined) }
  const a = idempotentOps(
    {
      ...core,
      'reservation.cancel': async (args: never, req: never) => {
        entered()
        await gate
        return (core['reservation.cancel'] as OpHandler<'reservation.cancel'>)(args, req)
      },
    } as HandlerTable,
    { store: stalled, clock: hub.clock, logger: pino({ enabled: false }), leaseMs: LEASE_MS, waitMs: 0 },
  )
  const ofA = (a['reservation.cancel'] as OpHandler<'reservation.cancel'>)({ reservationId: r1 }, { hubId: 'feira', vehicleId: 'V1', requestId: 'cancel-1', op: 'reservation.cancel' }).catch((e: unknown) => e)
  await inside
  // a's claim lapses; the vehicle's repeat runs on replica b (the hub of hubOn) and is answered.
  hub.clock.advance(LEASE_MS)
  const ofB = await hub.cancel('cancel-1', r1)
  t.same(ofB, { cancelled: 1 }, 'replica b ran the repeat and answered it')
  go()
  const late = await ofA
  t.same(late, ofB, "replica a's late run answers what was answered for the id (not NOT_FOUND)")
  t.same(await hub.cancel('cancel-1', r1), ofB, 'a later repeat answers it too')
})
