/**
 * Station events are kept for hub.json `retention.stationEventsDays`, then
 * deleted by the database's sweeper (hub/charging/event-retention.ts, run
 * by hub/trips/federation.ts under the sweeper's lease): in batches, the
 * event loop free between them, the acks kept. Memory, SQLite and
 * PostgreSQL stores; time is a TestClock and the events' received times.
 */
import t from 'tap'
import pg from 'pg'
import { pino } from 'pino'
import { TestClock } from '../hub/clock.js'
import { DAY_MS, deleteOldStationEvents } from '../hub/charging/event-retention.js'
import { StationRegistry } from '../hub/stations/index.js'
import { MemoryStore, type Store } from '../hub/store/index.js'
import { DELETE_OLD_EVENTS as PG_DELETE_OLD_EVENTS } from '../hub/store/postgres/charging.js'
import { DELETE_OLD_EVENTS as SQLITE_DELETE_OLD_EVENTS } from '../hub/store/sqlite/charging.js'
import { createFederation, type Federation, type FederationTuning } from '../hub/trips/index.js'
import { BAHIA, specConfig } from './helpers/federation-hubs.js'
import { hubConfig, startTestHub } from './helpers/hub.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'
import { tempSqlite } from './helpers/store-sqlite.js'
import { sharedStoreKinds } from './helpers/store-harnesses.js'

const FEIRA = BAHIA[0] as (typeof BAHIA)[number]
const pgSkip = await postgresSkipReason()

function federation(store: Store, clock: TestClock, replica: string, tuning: Partial<FederationTuning>): Federation {
  const config = specConfig(FEIRA, {})
  const stations = new StationRegistry({ hubId: FEIRA.hubId, currency: 'BRL', stations: config.stations, clock })
  return createFederation({ config, store, clock, logger: pino({ level: 'silent' }), stations, replica, tuning })
}

/** Events `from..to` of station S1 (epoch e1), stored at `atMs`. */
async function record(store: Store, from: number, to: number, atMs: number): Promise<void> {
  for (let seq = from; seq <= to; seq++) await store.charging.recordEvent('S1', 'e1', seq, 'fault', `{"seq":${seq}}`, atMs)
}

const seqs = async (store: Store): Promise<number[]> => (await store.charging.listStationEvents('S1', 100)).map((e) => e.seq).sort((a, b) => a - b)

const kinds = await sharedStoreKinds(['memory', 'sqlite', 'postgres'])

for (const k of kinds) {
  t.test(`[${k.kind}] the sweeper deletes station events older than the retention and keeps newer ones; a backlog over one sweep's batches goes at the next sweep; acknowledged events stay repeats`, { skip: k.skip }, async (t) => {
    const store = await (await k.setup(t))()
    const clock = new TestClock()
    const fed = federation(store, clock, 'main', { stationEventsKeptMs: DAY_MS, stationEventsBatch: 3, stationEventsMaxBatches: 2 })
    t.teardown(() => fed.close())
    const now = clock.now()
    await record(store, 1, 8, now - DAY_MS - 1) // past the retention, 1 ms
    await record(store, 9, 10, now - DAY_MS) // at it: kept

    await fed.sweep()
    t.same(await seqs(store), [7, 8, 9, 10], 'two batches of 3, the oldest first: the rest of the backlog waits for the next sweep')
    await fed.sweep()
    t.same(await seqs(store), [9, 10], 'the backlog is gone; events received at the cutoff stay')
    await fed.sweep()
    t.same(await seqs(store), [9, 10], 'nothing more to delete')

    t.same(await store.charging.recordEvent('S1', 'e1', 4, 'fault', '{"seq":4}', clock.now()), { inserted: false, ackSeq: 10 }, 'a deleted event sent again is a repeat: not stored, the ack stands')
    t.same(await store.charging.recordEvent('S1', 'e1', 11, 'fault', '{"seq":11}', clock.now()), { inserted: true, ackSeq: 11 }, 'recent events are acknowledged as before')

    clock.advance(1)
    await fed.sweep()
    t.same(await seqs(store), [11], '1 ms later, the events received at the old cutoff are past it too')
  })

  t.test(`[${k.kind}] the sweeper forgets the acks of a station's old streams once their events are gone, never its latest streams'`, { skip: k.skip }, async (t) => {
    const store = await (await k.setup(t))()
    const clock = new TestClock()
    const fed = federation(store, clock, 'main', { stationEventsKeptMs: DAY_MS, stationEventsBatch: 3, stationEventsMaxBatches: 2 })
    t.teardown(() => fed.close())
    const old = clock.now() - 2 * DAY_MS
    // A station that made an epoch per event, the last one its current outbox.
    for (let i = 0; i < 10; i++) t.same(await store.charging.recordEvent('S1', `e${i}`, 1, 'fault', '{}', old + i), { inserted: true, ackSeq: 1 })
    await fed.sweep()
    t.same(await seqs(store), [1, 1, 1, 1], 'one sweep: two batches of 3 events')
    await fed.sweep()
    await fed.sweep()
    await fed.sweep()
    t.same(await seqs(store), [], 'every event is past the retention')
    for (const e of ['e7', 'e8', 'e9']) t.same(await store.charging.recordEvent('S1', e, 1, 'fault', '{}', clock.now()), { inserted: false, ackSeq: 1 }, `${e}, of the latest streams, keeps its ack`)
    t.same(await store.charging.recordEvent('S1', 'e6', 1, 'fault', '{}', clock.now()), { inserted: true, ackSeq: 1 }, 'an older one was forgotten: it starts afresh')
  })

  t.test(`[${k.kind}] two replicas on one database: only the one holding the sweeper's lease deletes station events`, { skip: k.skip }, async (t) => {
    const open = await k.setup(t)
    const clock = new TestClock()
    const a = federation(await open(), clock, 'a', { stationEventsKeptMs: DAY_MS })
    const b = federation(await open(), clock, 'b', { stationEventsKeptMs: DAY_MS })
    t.teardown(async () => {
      await a.close()
      await b.close()
    })
    const store = await open()
    await record(store, 1, 3, clock.now() - 2 * DAY_MS)
    await a.sweep()
    t.same(await seqs(store), [], 'a took the lease and swept')
    await record(store, 4, 6, clock.now() - 2 * DAY_MS)
    await b.sweep()
    t.same(await seqs(store), [4, 5, 6], "b does not sweep while a's lease lives")
    await a.sweep()
    t.same(await seqs(store), [])
  })
}

t.test('deleteOldStationEvents gives the event loop a turn between batches and stops when a batch finds fewer than its size', async (t) => {
  const store = new MemoryStore()
  await record(store, 1, 7, 0)
  let turned = false
  setImmediate(() => (turned = true))
  const seen: Array<{ turned: boolean; deleted: number }> = []
  const watched = {
    async deleteStationEventsOlderThan(cutoffMs: number, limit: number) {
      const deleted = await store.charging.deleteStationEventsOlderThan(cutoffMs, limit)
      seen.push({ turned, deleted })
      return deleted
    },
  }
  t.equal(await deleteOldStationEvents(watched, 1, { batch: 3 }), 7)
  t.same(seen, [{ turned: false, deleted: 3 }, { turned: true, deleted: 3 }, { turned: true, deleted: 1 }], 'a macrotask ran between the first and second batch')
})

t.test('hub.json retention.stationEventsDays reaches the sweeper of a started hub', async (t) => {
  const clock = new TestClock()
  const hub = await startTestHub(hubConfig({ retention: { stationEventsDays: 2 } }), { clock, store: new MemoryStore() })
  t.teardown(() => hub.close())
  const store = hub.context.store
  await store.charging.recordEvent('FSA-1', null, 1, 'fault', '{}', clock.now() - 2 * DAY_MS - 1)
  await store.charging.recordEvent('FSA-1', null, 2, 'fault', '{}', clock.now() - 2 * DAY_MS)
  await hub.federation.sweep()
  t.same((await store.charging.listStationEvents('FSA-1', 10)).map((e) => e.seq), [2], 'older than 2 days: deleted; 2 days old: kept')
})

t.test('[sqlite] a batch finds the oldest events by the index station_events_by_age, not by a scan of the table', async (t) => {
  const s = tempSqlite()
  t.teardown(() => s.dispose())
  const store = s.open()
  const plan = store.db.prepare(`EXPLAIN QUERY PLAN ${SQLITE_DELETE_OLD_EVENTS}`).all(0, 10) as Array<{ detail: string }>
  const details = plan.map((r) => r.detail)
  t.ok(details.some((d) => /USING (COVERING )?INDEX station_events_by_age/.test(d)), details.join('; '))
  t.notOk(details.some((d) => /^SCAN station_events\b(?! USING)/.test(d)), 'no full scan')
})

t.test('[postgres] a batch can find the oldest events by the index station_events_by_age', { skip: pgSkip ?? false }, async (t) => {
  const db = await tempPostgres()
  t.teardown(() => db.dispose())
  const schema = db.schema()
  await schema.open()
  const c = new pg.Client({ connectionString: db.url })
  await c.connect()
  t.teardown(() => c.end())
  await c.query(`SET search_path TO ${schema.name}`)
  // An empty table is cheapest to scan: forbid that, so the plan shows whether the index serves the query.
  await c.query('SET enable_seqscan = off')
  const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${PG_DELETE_OLD_EVENTS}`, [0, 10])).rows.map((r) => r['QUERY PLAN']).join('\n')
  t.match(plan, /station_events_by_age/, plan)
})
