/**
 * The PostgreSQL reservation store books the first attempt of the bookings
 * asked in one turn with one statement (hub/store/postgres/reservations.ts,
 * BOOK_BATCH). Every booking of a burst (reservations and holds, several for
 * one station and time, overlapping candidate lists, an expired hold in the
 * way, an id used before) gets what it gets when the same bookings are asked
 * one after another, in the order asked, on a fresh schema, and leaves the
 * same rows; the earlier-asked wins a station two of the burst want, even when
 * the later one's time sorts first. A lone booking keeps its own statement.
 * Two stores (two pools, as two replicas) racing bursts for the same slots
 * never book two overlapping slots and never fail for it.
 */
import t, { type Test } from 'tap'
import pg_ from 'pg'
import { StoreError, type PostgresStore } from '../hub/store/index.js'
import { BRIEF_POOL_MAX } from '../hub/store/postgres/pool.js'
import { BATCH_LOCK_TIMEOUT_MS } from '../hub/store/postgres/reservations.js'
import { postgresSkipReason, seededTwins, tempPostgres } from './helpers/store-postgres.js'

const skip = await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${skip}`)

const MIN = 60_000
const W = 30 * MIN
const T = Date.parse('2026-12-01T08:00:00Z')
const NOW = T - 60 * MIN
const at = (id: string, i: number): { stationId: string; position: { lat: number; lon: number } } => ({ stationId: id, position: { lat: -12.9 - i / 100, lon: -38.5 + i / 100 } })
const S = Object.fromEntries(['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7'].map((id, i) => [id, at(id, i)])) as Record<string, ReturnType<typeof at>>

/** A booking to ask: a reservation or a hold, of `stations` in order, at `atMs`. */
interface Ask {
  kind: 'reservation' | 'hold'
  id: string
  stations: string[]
  atMs: number
  nowMs?: number
  /** Default W. */
  windowMs?: number
}

function ask(store: PostgresStore, a: Ask): Promise<unknown> {
  const common = { vehicleId: `V-${a.id}`, atMs: a.atMs, candidates: a.stations.map((id) => S[id] as ReturnType<typeof at>), windowMs: a.windowMs ?? W, nowMs: a.nowMs ?? NOW }
  const p =
    a.kind === 'reservation'
      ? store.reservations.createReservation({ reservationId: a.id, ...common })
      : store.reservations.placeHold({ holdId: a.id, txId: `tx-${a.id}`, txStartedAtMs: NOW - MIN, expiresAtMs: (a.nowMs ?? NOW) + 10 * MIN, ...common })
  return p.then(
    (v) => v,
    (err: unknown) => (err instanceof StoreError ? `error ${err.code}` : `not a StoreError: ${String(err)}`),
  )
}

/** Bookings there before the burst: a reservation at S1, an expired hold at S2, a live hold at S3 (later), a reservation with id `dup`. */
async function seed(store: PostgresStore): Promise<void> {
  const r = store.reservations
  await r.createReservation({ reservationId: 'seed-r', vehicleId: 'V0', atMs: T, candidates: [S.S1 as ReturnType<typeof at>], windowMs: W, nowMs: NOW - 2 * MIN })
  await r.placeHold({ holdId: 'seed-expired', txId: 'tx0', txStartedAtMs: NOW - 2 * MIN, vehicleId: 'V0', atMs: T, candidates: [S.S2 as ReturnType<typeof at>], windowMs: W, nowMs: NOW - 2 * MIN, expiresAtMs: NOW - 1 })
  await r.placeHold({ holdId: 'seed-live', txId: 'tx1', txStartedAtMs: NOW - 2 * MIN, vehicleId: 'V0', atMs: T + W, candidates: [S.S3 as ReturnType<typeof at>], windowMs: W, nowMs: NOW - 2 * MIN, expiresAtMs: NOW + 60 * MIN })
  await r.createReservation({ reservationId: 'dup', vehicleId: 'V0', atMs: T + 5 * W, candidates: [S.S7 as ReturnType<typeof at>], windowMs: W, nowMs: NOW - 2 * MIN })
}

/** A burst, in the order asked. */
const BURST: Ask[] = [
  { kind: 'reservation', id: 'r1', stations: ['S1', 'S2', 'S3'], atMs: T }, // S1 taken; S2's only blocker is the expired hold: S2
  { kind: 'hold', id: 'h1', stations: ['S2', 'S3'], atMs: T }, // S2 taken by r1 just before: S3
  { kind: 'reservation', id: 'r2', stations: ['S3', 'S2'], atMs: T + MIN }, // both taken by the two before (and S3 by the live hold): refused
  { kind: 'reservation', id: 'r3', stations: ['S4'], atMs: T + 10 * MIN },
  { kind: 'hold', id: 'h2', stations: ['S4', 'S1'], atMs: T + 5 * MIN }, // S4 taken by r3, S1 by seed-r: refused
  { kind: 'reservation', id: 'r4', stations: ['S1', 'S4'], atMs: T + W }, // exactly the window after seed-r: S1
  { kind: 'reservation', id: 'r5', stations: ['S3'], atMs: T + W }, // the live hold: refused
  { kind: 'hold', id: 'h3', stations: ['S1', 'S3', 'S4'], atMs: T + W + 1 }, // all three taken: refused
  // The earlier-asked wins though the later one's time sorts first.
  { kind: 'reservation', id: 'r6', stations: ['S5'], atMs: T + 5 * MIN },
  { kind: 'hold', id: 'h4', stations: ['S5', 'S6'], atMs: T }, // S5 taken by r6: S6
  { kind: 'reservation', id: 'r7', stations: ['S6'], atMs: T + MIN }, // S6 taken by h4: refused
  // Same station and time, three times; then a list that only the first of them takes from.
  { kind: 'reservation', id: 'r8', stations: ['S7', 'S6'], atMs: T + 3 * W },
  { kind: 'reservation', id: 'r9', stations: ['S7', 'S6'], atMs: T + 3 * W }, // S6
  { kind: 'hold', id: 'h5', stations: ['S7', 'S6'], atMs: T + 3 * W }, // refused
  { kind: 'reservation', id: 'r10', stations: ['S6', 'S5'], atMs: T + 3 * W + 1 }, // S5
]

const rowsOf = async (store: PostgresStore): Promise<unknown> => ({
  reservations: (await store.db.query('SELECT * FROM reservations ORDER BY reservation_id')).rows,
  holds: (await store.db.query('SELECT * FROM holds ORDER BY hold_id')).rows,
  slots: (await store.db.query('SELECT station_id, at_ms, window_ms, reservation_id, hold_id FROM booking_slots ORDER BY station_id, at_ms')).rows,
})

/** Counts the store's single statements (db.query) and the batch statements among them. */
function countStatements(store: PostgresStore): { queries: number; txs: number; batches: number; batch: { text: string; values: unknown[] } | null; stop: () => void } {
  const { query, tx } = store.db
  const seen = {
    /** Autocommit statements (db.query). */
    queries: 0,
    /** Transactions (db.tx): a batch is one. */
    txs: 0,
    batches: 0,
    batch: null as { text: string; values: unknown[] } | null,
    stop: () => {
      store.db.query = query
      store.db.tx = tx
    },
  }
  const sawBatch = (text: string, values?: unknown[]): void => {
    if (!text.includes('jsonb_to_recordset')) return
    seen.batches++
    seen.batch = { text, values: values ?? [] }
  }
  store.db.query = ((text: string, values?: unknown[], o?: Parameters<typeof query>[2]) => {
    seen.queries++
    sawBatch(text, values)
    return query.call(store.db, text, values, o)
  }) as typeof store.db.query
  store.db.tx = ((work: Parameters<typeof tx>[0]) => {
    seen.txs++
    return tx.call(store.db, (t) => work({ ...t, query: ((text: string, values?: unknown[]) => (sawBatch(text, values), t.query(text, values))) as typeof t.query }))
  }) as typeof store.db.tx
  return seen
}

/** The outcomes of `asks` asked one after another on `store`. */
async function oneAfterAnother(store: PostgresStore, asks: Ask[]): Promise<unknown[]> {
  const out = []
  for (const a of asks) out.push(await ask(store, a))
  return out
}

/** `asks` in one burst on `burst`: each outcome as `alone` (asked one after another on `one`), and the same rows; the statements it took. */
async function burstAsAlone(
  t: Test,
  stores: { one: PostgresStore; burst: PostgresStore },
  asks: Ask[],
  alone: unknown[],
  rowsNote: string,
): Promise<ReturnType<typeof countStatements>> {
  const count = countStatements(stores.burst)
  const outcomes = await Promise.all(asks.map((a) => ask(stores.burst, a)))
  count.stop()
  t.same(outcomes, alone, `${asks.length} outcomes, each as asked one after another`)
  t.same(await rowsOf(stores.burst), await rowsOf(stores.one), rowsNote)
  return count
}

const summary = (o: unknown): string => {
  if (typeof o === 'string') return o
  const b = o as { ok: boolean; record?: { stationId: string }; conflicts?: { id: string }[] }
  return b.ok ? `ok ${b.record?.stationId}` : `refused by ${b.conflicts?.map((c) => c.id).join(',')}`
}

t.test('a burst of bookings: each outcome and row as asked one after another, in one statement', { skip: skip ?? false }, async (t) => {
  const { one, burst } = await seededTwins(t, seed)

  const aloneCount = countStatements(one)
  const alone = await oneAfterAnother(one, BURST)
  aloneCount.stop()
  t.same(alone.map(summary), [
    'ok S2', 'ok S3', 'refused by r1,h1,seed-live', 'ok S4', 'refused by seed-r,r3', 'ok S1', 'refused by seed-live', 'refused by r4,seed-live,r3',
    'ok S5', 'ok S6', 'refused by h4', 'ok S7', 'ok S6', 'refused by r9,r8', 'ok S5',
  ], 'one after another: the outcomes the burst is built around')
  t.equal(aloneCount.batches, 0, 'one after another: no batch')

  const count = await burstAsAlone(t, { one, burst }, BURST, alone, 'the same rows (and the expired hold, reaped, has no slot)')
  t.equal(count.batches, 1, 'one batch statement')
  t.same([count.txs, count.queries], [0, 1], `${BURST.length} bookings, one statement (its own transaction) and no other (one after another: ${aloneCount.queries} statements)`)

  // The planner's estimate stays under jit_above_cost (it does not grow with the batch): JIT
  // compiling a statement this size took 1.6 s on the bench machine, for 2 ms of work.
  const batch = count.batch as { text: string; values: unknown[] }
  const plan = (await burst.db.query<{ 'QUERY PLAN': [{ Plan: { 'Total Cost': number } }] }>(`EXPLAIN (FORMAT JSON) ${batch.text}`, batch.values)).rows[0]?.['QUERY PLAN'][0].Plan
  const jitAbove = Number((await burst.db.query<{ c: string }>("SELECT current_setting('jit_above_cost') AS c")).rows[0]?.c)
  t.ok(plan && plan['Total Cost'] < jitAbove, `the batch's estimated cost ${plan?.['Total Cost']} is under jit_above_cost ${jitAbove}`)

  // A lone booking keeps its own statement.
  const lone = countStatements(burst)
  t.same(summary(await ask(burst, { kind: 'reservation', id: 'r-lone', stations: ['S2', 'S4'], atMs: T + 6 * W })), 'ok S2')
  lone.stop()
  t.same([lone.queries, lone.txs, lone.batches], [1, 0, 0], 'a booking asked alone: its one statement, no batch')
})

t.test('a burst with an id used before: that booking fails alone (DUPLICATE_ID), the others as one after another', { skip: skip ?? false }, async (t) => {
  const { one, burst } = await seededTwins(t, seed)
  const asks: Ask[] = [...BURST.slice(0, 6), { kind: 'reservation', id: 'dup', stations: ['S5'], atMs: T + 7 * W }, ...BURST.slice(6)]

  const alone = await oneAfterAnother(one, asks)
  t.equal(alone[6], 'error DUPLICATE_ID', 'one after another: the id used before is refused')
  const count = await burstAsAlone(t, { one, burst }, asks, alone, 'the same rows')
  t.equal(count.batches, 1, 'the batch was tried, then each booking alone')
})

t.test('two stores racing bursts for the same slots: never two overlapping bookings, no failures', { skip: skip ?? false }, async (t) => {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const schema = pg.schema()
  const a = await schema.open({ max: 3 })
  const b = await schema.open({ max: 3 })
  await seed(a)
  const stations = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6']
  // Each round, each store asks 3 bookings at each of 4 times 10 minutes apart (later rounds later), candidate lists rotated so they cross; the two stores' lists run in opposite orders.
  const burstOf = (round: number, tag: string, reverse: boolean): Ask[] =>
    Array.from({ length: 12 }, (_, k) => {
      const list = [...stations.slice(k % 6), ...stations.slice(0, k % 6)]
      return { kind: k % 3 === 0 ? 'hold' : 'reservation', id: `${tag}${k}`, stations: reverse ? list.reverse() : list, atMs: T + round * 10 * W + (k % 4) * 10 * MIN }
    })
  for (let round = 0; round < 4; round++) {
    const [x, y] = await Promise.all([Promise.all(burstOf(round, `a${round}-`, false).map((q) => ask(a, q))), Promise.all(burstOf(round, `b${round}-`, true).map((q) => ask(b, q)))])
    const all = [...x, ...y]
    t.same(all.filter((o) => typeof o === 'string'), [], `round ${round}: no booking failed`)
    t.ok(all.some((o) => (o as { ok: boolean }).ok), `round ${round}: bookings went in`)
  }
  const live = (await a.db.query<{ station_id: string; at_ms: number; id: string }>(
    `SELECT station_id, at_ms, reservation_id AS id FROM reservations
     UNION ALL SELECT station_id, at_ms, hold_id FROM holds WHERE reservation_id IS NULL AND expires_at_ms > $1`, [NOW])).rows
  const clashes = live.flatMap((p) => live.filter((q) => q.id < p.id && q.station_id === p.station_id && Math.abs(q.at_ms - p.at_ms) < W).map((q) => `${p.id}/${q.id}`))
  t.same(clashes, [], `${live.length} bookings, no two of one station within the window`)
  const slots = Number((await a.db.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM booking_slots')).rows[0]?.n)
  t.equal(slots, live.length, 'each booking has its slot')
})

t.test('a pick the constraint refuses rolls the whole batch back, and its bookings run alone one after another', { skip: skip ?? false }, async (t) => {
  // A booking made with a wider window (40 min) is no blocker to a 10-minute booking 20 minutes later
  // as the walk reads it, but the constraint refuses the overlap of their slots: the batch's pick of
  // S1 is refused. Had the batch kept what it booked, r3 would have taken S2 before r2 tried it.
  const wide = async (store: PostgresStore): Promise<void> => {
    await store.reservations.createReservation({ reservationId: 'old40', vehicleId: 'V0', atMs: T, candidates: [S.S1 as ReturnType<typeof at>], windowMs: 40 * MIN, nowMs: NOW })
  }
  const { one, burst } = await seededTwins(t, wide)
  const asks: Ask[] = [
    { kind: 'reservation', id: 'r2', stations: ['S1', 'S2'], atMs: T + 20 * MIN, windowMs: 10 * MIN },
    { kind: 'reservation', id: 'r3', stations: ['S2', 'S4'], atMs: T + 20 * MIN, windowMs: 10 * MIN },
    { kind: 'hold', id: 'h3', stations: ['S2'], atMs: T + 22 * MIN, windowMs: 10 * MIN },
  ]
  const alone = await oneAfterAnother(one, asks)
  t.same(alone.map(summary), ['ok S2', 'ok S4', 'refused by r2'], 'one after another: r2 is refused S1 by the wider slot and takes S2')
  const count = await burstAsAlone(t, { one, burst }, asks, alone, 'the same rows')
  t.same([count.batches, count.txs], [1, 0], 'the batch was tried once, one statement (its own transaction), which failed whole')
})

t.test('a batch that cannot reach the database fails every booking of it at once, without running them alone', { skip: skip ?? false }, async (t) => {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const store = await pg.schema().open({ max: 1, connectTimeoutMs: 300 })
  await seed(store)
  // Every connection a batch may use, and the pool's one, busy for longer than the batch may wait for one.
  const busy = Promise.all([
    store.db.query('SELECT pg_sleep(1.5)'),
    ...Array.from({ length: BRIEF_POOL_MAX }, () => store.db.query('SELECT pg_sleep(1.5)', [], { lockTimeoutMs: BATCH_LOCK_TIMEOUT_MS })),
  ])
  const count = countStatements(store)
  const raw = store.reservations.createReservation({ reservationId: 'raw', vehicleId: 'V-raw', atMs: T + 9 * W, candidates: [S.S1 as ReturnType<typeof at>], windowMs: W, nowMs: NOW })
  const outcomes = await Promise.all(BURST.slice(0, 6).map((a) => ask(store, a)))
  const rawErr = await raw.then(() => null, (e: unknown) => e)
  count.stop()
  await busy
  t.same(outcomes, Array(6).fill('error BUSY'), 'each booking: BUSY, the batch\'s error')
  t.match(rawErr, { code: 'BUSY', message: /batches of bookings/ }, "the batch's error names its own pool, not store.poolSize (which does not size it)")
  t.notMatch((rawErr as Error).message, /poolSize/)
  t.same([count.batches, count.txs, count.queries], [1, 0, 1], 'the batch was tried; no booking was run alone after it (each would have waited for the pool again)')
})

t.test('a burst larger than a batch goes in batches of 100, one after the other, each as if asked after the ones before', { skip: skip ?? false }, async (t) => {
  const { one, burst } = await seededTwins(t, seed)
  const stations = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7']
  // 230 bookings, five at each time, each over two stations, so later ones meet earlier ones of other batches.
  const asks: Ask[] = Array.from({ length: 230 }, (_, k) => ({
    kind: k % 4 === 0 ? 'hold' : 'reservation',
    id: `b${k}`,
    stations: [stations[k % 7] as string, stations[(k + 3) % 7] as string],
    atMs: T + 10 * W + Math.floor(k / 5) * 20 * MIN,
  }))
  const alone = await oneAfterAnother(one, asks)
  const count = await burstAsAlone(t, { one, burst }, asks, alone, 'the same rows')
  t.equal(count.batches, 3, '230 bookings: batches of 100, 100 and 30')
  t.ok(alone.some((o) => summary(o).startsWith('refused')) && alone.some((o) => summary(o).startsWith('ok')), 'the burst has bookings that go in and bookings that are refused')
})

t.test('a batch that meets a lock another writer holds gives up, and its bookings then run alone side by side, not one after another', { skip: skip ?? false }, async (t) => {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const schema = pg.schema()
  const store = await schema.open({ max: 4, busyTimeoutMs: 1000 })
  // Another writer's slot at S1, inserted and not committed: whoever inserts an overlapping one waits for it.
  const holder = new pg_.Client({ connectionString: pg.url })
  await holder.connect()
  t.teardown(() => holder.end())
  await holder.query('BEGIN')
  await holder.query(`INSERT INTO ${schema.name}.booking_slots (station_id, at_ms, window_ms, reservation_id) VALUES ('S1', $1, $2, 'held')`, [T, W])
  let inFlight = 0
  let most = 0
  const { query } = store.db
  store.db.query = ((text: string, values?: unknown[], o?: Parameters<typeof query>[2]) => {
    most = Math.max(most, ++inFlight)
    return query.call(store.db, text, values, o).finally(() => inFlight--)
  }) as typeof store.db.query
  const outcomes = await Promise.all(Array.from({ length: 6 }, (_, k) => ask(store, { kind: 'reservation', id: `w${k}`, stations: ['S1', 'S2'], atMs: T })))
  await holder.query('ROLLBACK')
  t.same(outcomes, Array(6).fill('error BUSY'), 'each booking waits out its own lock timeout: BUSY')
  t.ok(most > 1, `the bookings ran alone side by side (${most} statements at once), each waiting once, not each after the one before`)
})

t.test('a booking the batch could not book is told the earlier picks that blocked it in the walk, wider slots too, without asking again', { skip: skip ?? false }, async (t) => {
  const { one, burst } = await seededTwins(t, async () => undefined)
  // W's slot (60 minutes wide) overlaps X's though X is outside W's window by X's own 20 minutes:
  // the walk counts it (blocksSlot), so X's blockers must name W with no statement of its own.
  const asks: Ask[] = [
    { kind: 'reservation', id: 'W', stations: ['S1'], atMs: T, windowMs: 60 * MIN },
    { kind: 'reservation', id: 'X', stations: ['S1'], atMs: T + 35 * MIN, windowMs: 20 * MIN },
    { kind: 'hold', id: 'Z', stations: ['S2'], atMs: T },
  ]
  const alone = await oneAfterAnother(one, asks)
  t.same(alone.map(summary), ['ok S1', 'refused by W', 'ok S2'], 'one after another: X is refused by W')
  const count = await burstAsAlone(t, { one, burst }, asks, alone, 'the same rows')
  t.same([count.batches, count.txs, count.queries], [1, 0, 1], 'one batch, and no statement after it for X')
})
