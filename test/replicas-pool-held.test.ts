/**
 * Another session (an operator's psql left in BEGIN, a stuck job) holds row
 * locks on rows a hub replica's requests touch, until every pooled
 * connection (store.poolSize, docs/configuration.md) waits on one of them. A
 * real `voltway hub --replica` process on PostgreSQL behind Mosquitto:
 * unrelated vehicles' requests are still answered within the lock and pool
 * timeouts (5 s each), ok or STORAGE_UNAVAILABLE, and an answer
 * STORAGE_UNAVAILABLE changed nothing; the replica stays healthy; once the
 * locks are gone every request is served at once, a repeat of a refused
 * request id included.
 */
import t from 'tap'
import pg from 'pg'
import { effectId } from '../hub/requests/idempotent.js'
import { formatTime } from '../protocol/index.js'
import { hubConfig } from './helpers/hub-config.js'
import { mosquittoBinary } from './helpers/mosquitto.js'
import { waitUntil } from './helpers/net.js'
import { fleet, startReplicaCluster } from './helpers/replica-cluster.js'
import { IdVehicle, type Answer } from './helpers/replica-vehicle.js'
import { postgresSkipReason } from './helpers/store-postgres.js'

const skip = mosquittoBinary() === null ? 'mosquitto is not installed' : await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`replica tests cannot run in CI: ${skip}`)

/** The cluster's store.poolSize (test/helpers/replica-cluster.ts). */
const POOL = 4
/** The store's lock and pool waits (hub/store/postgres/pool.ts), plus room for a loaded machine. */
const BOUND_MS = 5000 + 5000 + 5000

t.test('[1 replica] every pooled connection waiting on rows another session holds: unrelated requests answered in bounded time, ok or STORAGE_UNAVAILABLE with nothing changed; all served again once the locks go', { skip: skip ?? false }, async (t) => {
  const VEHICLES = fleet(10)
  const c = await startReplicaCluster({ config: hubConfig({ vehicles: VEHICLES, rules: { windowMinutes: 10 } }), replicas: ['r1'] })
  const vehicles: IdVehicle[] = []
  const other = new pg.Client({ connectionString: c.db.url })
  t.teardown(async () => {
    await other.end().catch(() => undefined)
    for (const v of vehicles) await v.close()
    await c.close()
  })
  for (const v of VEHICLES) vehicles.push(await IdVehicle.connect(c.broker.url, c.hubId, v.vehicleId, v.password))
  const [v1, ...rest] = vehicles as [IdVehicle, ...IdVehicle[]]
  const station = c.config.stations[0] as (typeof c.config.stations)[number]
  const base = Math.ceil(Date.now() / 60_000) * 60_000 + 3 * 3_600_000
  const create = (v: IdVehicle, slot: number, id: string, timeoutMs: number): Promise<Answer | null> =>
    v.send('reservation.create', { at: formatTime(base + slot * 15 * 60_000), position: station.position, rangeKm: 5, stationId: station.stationId }, id, timeoutMs)

  const held: string[] = []
  for (let i = 0; i < POOL; i++) {
    const a = await create(v1, i, `book-${i}`, 10_000)
    if (!a?.ok) throw new Error(`book-${i}: ${JSON.stringify(a)}`)
    held.push((a.result as { reservation: { reservationId: string } }).reservation.reservationId)
  }
  await other.connect()
  await other.query('BEGIN')
  await other.query('SELECT 1 FROM reservations WHERE reservation_id = ANY($1) FOR UPDATE', [held])
  // V1 cancels each: each cancel's statement takes a pooled connection and waits on its row.
  const cancels = held.map((r, i) => v1.send('reservation.cancel', { reservationId: r }, `cancel-${i}`, BOUND_MS))
  await waitUntil(async () => {
    const w = await c.db.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'voltway-hub' AND wait_event_type = 'Lock'`)
    return (w.rows[0]?.n ?? 0) >= POOL
  }, 10_000, 'every pooled connection waiting on a held row')

  const started = Date.now()
  const unrelated = await Promise.all(rest.map((v, i) => create(v, 100 + i, `u-${i}`, BOUND_MS).then((a) => ({ v, i, a, ms: Date.now() - started }))))
  const lists = await Promise.all(rest.map((v, i) => v.send('reservation.list', {}, `l-${i}`, BOUND_MS)))
  const health = (await (await fetch(`${c.httpUrl('r1')}/healthz`)).json()) as { ok: boolean }
  const codes = (as: Array<Answer | null>): string[] => [...new Set(as.map((a) => (a === null ? 'no answer' : a.ok ? 'ok' : a.error.code)))].sort()
  t.same(codes(unrelated.map((u) => u.a)).filter((x) => x !== 'ok' && x !== 'STORAGE_UNAVAILABLE'), [], `every unrelated create answered within ${BOUND_MS} ms, ok or STORAGE_UNAVAILABLE (${codes(unrelated.map((u) => u.a)).join(', ')})`)
  t.same(codes(lists).filter((x) => x !== 'ok' && x !== 'STORAGE_UNAVAILABLE'), [], `every unrelated list answered too (${codes(lists).join(', ')})`)
  t.equal(health.ok, true, 'the replica stays healthy (busy is not down)')
  const refused = unrelated.filter((u) => u.a !== null && !u.a.ok)
  const made = new Set((await c.db.sql<{ reservation_id: string }>('SELECT reservation_id FROM reservations')).rows.map((r) => r.reservation_id))
  t.same(refused.filter((u) => made.has(effectId('r', { vehicleId: u.v.vehicleId, requestId: `u-${u.i}` }))).map((u) => u.v.vehicleId), [], 'a create answered STORAGE_UNAVAILABLE booked nothing')
  const cancelAnswers = await Promise.all(cancels)
  t.same(codes(cancelAnswers), ['STORAGE_UNAVAILABLE'], 'each cancel of a held row: STORAGE_UNAVAILABLE once its lock wait ran out')

  await other.query('COMMIT')
  const after = await Promise.all(rest.map((v, i) => create(v, 200 + i, `after-${i}`, BOUND_MS)))
  t.same(codes(after), ['ok'], 'once the locks are gone, every new request is served')
  const repeated = await Promise.all(unrelated.map((u) => create(u.v, 100 + u.i, `u-${u.i}`, BOUND_MS)))
  t.same(codes(repeated), ['ok'], 'and a repeat of every unrelated request id is served (refused ones run afresh)')
  const again = await Promise.all(held.map((r, i) => v1.send('reservation.cancel', { reservationId: r }, `cancel-${i}`, BOUND_MS)))
  t.same(codes(again), ['ok'], 'the cancels of the held rows, repeated, take effect')
  const left = await c.db.sql<{ n: number }>('SELECT count(*)::int AS n FROM reservations')
  t.equal(left.rows[0]?.n, 2 * rest.length, 'the database holds exactly the bookings answered ok: none of the held rows, one per unrelated id')
  t.comment(`figures: pool ${POOL}, ${POOL} rows held; unrelated creates answered after ${Math.min(...unrelated.map((u) => u.ms))}-${Math.max(...unrelated.map((u) => u.ms))} ms (${refused.length} STORAGE_UNAVAILABLE)`)
})
