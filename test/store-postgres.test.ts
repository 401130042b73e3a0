/**
 * The Store contract on PostgreSQL (the same suite as memory and SQLite),
 * and what only PostgreSQL has: migrations in `voltway_schema`, the booking
 * window and one active session per station kept by the database itself.
 */
import t from 'tap'
import pgDriver from 'pg'
import { PG_LATEST_VERSION, PG_MIGRATIONS, PostgresStore, StoreError, openHubStore } from '../hub/store/index.js'
import { ConfigError } from '../protocol/index.js'
import { accountsStoreContract } from './helpers/store-accounts-contract.js'
import { holdInput, reservationInput, station, storeContract } from './helpers/store-contract.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'
import { waitUntil } from './helpers/net.js'

const skip = await postgresSkipReason()
if (skip) {
  t.skip(`SKIP: ${skip}`, () => undefined)
} else {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())

  storeContract(t, 'PostgresStore', async () => {
    const schema = pg.schema()
    return { store: await schema.open(), dispose: () => schema.dispose() }
  })

  accountsStoreContract(t, 'PostgresStore', async () => {
    const schema = pg.schema()
    return { store: await schema.open(), dispose: () => schema.dispose() }
  })

  t.test('restart keeps reservations and holds (close and reopen the pool)', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const first = await schema.open()
    const r = await first.reservations.createReservation(reservationInput({ reservationId: 'keep-me', vehicleId: 'V1' }))
    const h = await first.reservations.placeHold(holdInput({ holdId: 'hold-me', candidates: [{ stationId: 'S2', position: { lat: 1, lon: 2 } }] }))
    t.ok(r.ok && h.ok)
    await first.close()
    const again = await schema.open()
    t.same(await again.reservations.getReservation('keep-me'), r.ok ? r.record : null)
    t.same(await again.reservations.getHold('hold-me'), h.ok ? h.record : null)
    t.notOk((await again.reservations.createReservation(reservationInput({ vehicleId: 'V2' }))).ok, 'the reopened store still enforces the window')
  })

  t.test('migrations are recorded in voltway_schema, numbered 1..n, applied once however many stores open at once', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const stores = await Promise.all([schema.open(), schema.open(), schema.open()])
    t.equal(PG_LATEST_VERSION, PG_MIGRATIONS.length)
    for (const s of stores) t.equal(await s.schemaVersion(), PG_LATEST_VERSION)
    const rows = await pg.sql<{ version: number }>(`SELECT version FROM ${schema.name}.voltway_schema ORDER BY version`)
    t.same(rows.rows.map((r) => r.version), PG_MIGRATIONS.map((m) => m.version))
    await stores[0]?.ping()
  })

  t.test('a database written by a newer Voltway is refused with SCHEMA_TOO_NEW', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    await (await schema.open()).close()
    await pg.sql(`INSERT INTO ${schema.name}.voltway_schema (version, name) VALUES ($1, 'from the future')`, [PG_LATEST_VERSION + 1])
    await t.rejects(schema.open(), { code: 'SCHEMA_TOO_NEW' })
    // At start (the hub, hub acl, the account commands): exit 2 naming the store, with the hint for this cause.
    const err = await openHubStore({ type: 'postgres', url: pg.url, schema: schema.name }, '/unused').then(() => null, (e: unknown) => e)
    t.ok(err instanceof ConfigError, `a ConfigError, exit 2: starting again cannot help (${String(err)})`)
    t.match((err as Error).message, new RegExp(`^hub\\.json: store "postgres://postgres@127\\.0\\.0\\.1:5432/[^"]+" \\(schema ${schema.name}\\): database schema version ${PG_LATEST_VERSION + 1} is newer than this Voltway knows \\(${PG_LATEST_VERSION}\\); a newer Voltway migrated it: run that release \\(or a later one\\) again, or restore the backup taken before the upgrade`))
    t.notMatch((err as Error).message, /check the URL/, "not the hint for a URL or role that cannot work")
    const versions = await pg.sql<{ v: number }>(`SELECT MAX(version) AS v FROM ${schema.name}.voltway_schema`)
    t.equal(versions.rows[0]?.v, PG_LATEST_VERSION + 1, 'the database is left as it was')
  })

  t.test('a server that is not there is StoreError UNAVAILABLE', async (t) => {
    const err = await PostgresStore.open({ url: 'postgres://postgres@127.0.0.1:1/nothing', connectTimeoutMs: 1000 }).then(() => null, (e: unknown) => e)
    t.ok(err instanceof StoreError && err.code === 'UNAVAILABLE', `rejects with UNAVAILABLE (${String(err)})`)
  })

  t.test('two pools on one database see each other and cannot double-book', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const a = await schema.open()
    const b = await schema.open()
    t.ok((await a.reservations.createReservation(reservationInput({ vehicleId: 'VA' }))).ok)
    t.notOk((await b.reservations.createReservation(reservationInput({ vehicleId: 'VB' }))).ok)
    t.equal((await b.reservations.listVehicleReservations('VA', 0)).length, 1)
  })

  /** A reservation and its slot written with plain SQL, behind the store's back (as a buggy or foreign writer would). */
  const rawBooking = (schema: string, id: string, atMs: number, windowMs: number) =>
    pg.sql(
      `WITH r AS (INSERT INTO ${schema}.reservations (reservation_id, station_id, vehicle_id, lat, lon, at_ms, created_at_ms) VALUES ($1, 'S1', 'V', 0, 0, $2, 0))
       INSERT INTO ${schema}.booking_slots (station_id, at_ms, window_ms, reservation_id) VALUES ('S1', $2, $3, $1)`,
      [id, atMs, windowMs],
    ).then(() => 'ok', (e: { code?: string }) => e.code)

  t.test('rule withinWindow in the database: the EXCLUDE constraint refuses a slot 1 ms inside the window and takes one exactly the window away, whoever writes', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    await schema.open()
    const W = 7_200_000
    t.equal(await rawBooking(schema.name, 'a', 10 * W, W), 'ok')
    t.equal(await rawBooking(schema.name, 'b', 11 * W - 1, W), '23P01', '1 ms inside the window after: exclusion_violation')
    t.equal(await rawBooking(schema.name, 'c', 9 * W + 1, W), '23P01', '1 ms inside the window before: exclusion_violation')
    t.equal(await rawBooking(schema.name, 'd', 11 * W, W), 'ok', 'exactly the window after')
    t.equal(await rawBooking(schema.name, 'e', 9 * W, W), 'ok', 'exactly the window before')
    t.equal(await rawBooking(schema.name, 'odd-1', 100, 3), 'ok', 'an odd window is exact to the half millisecond')
    t.equal(await rawBooking(schema.name, 'odd-2', 102, 3), '23P01')
    t.equal(await rawBooking(schema.name, 'odd-3', 103, 3), 'ok')
    t.equal(await rawBooking(schema.name, 'zero', 10 * W, 0), 'ok', 'a zero window blocks nothing')
  })

  t.test('rule isExpiredHold in the database: a booking frees the slot of an expired hold of its station; a confirm with an earlier clock then answers expired, or takes the slot back if still free', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const store = await schema.open()
    const T0 = Date.parse('2026-11-24T12:00:00Z')
    const AT = T0 + 3 * 3_600_000
    const taken = await store.reservations.placeHold(holdInput({ holdId: 'h-taken', expiresAtMs: T0 + 30_000 }))
    const free = await store.reservations.placeHold(holdInput({ holdId: 'h-free', candidates: [station('S2')], expiresAtMs: T0 + 30_000 }))
    t.ok(taken.ok && free.ok)
    // A writer whose clock says the holds expired books over the first and somewhere else on the second's station.
    t.ok((await store.reservations.createReservation(reservationInput({ nowMs: T0 + 30_000 }))).ok, 'the expired hold does not block')
    t.ok((await store.reservations.createReservation(reservationInput({ nowMs: T0 + 30_000, candidates: [station('S2')], atMs: AT + 10 * 3_600_000 }))).ok)
    const slots = await pg.sql<{ hold_id: string | null }>(`SELECT hold_id FROM ${schema.name}.booking_slots WHERE hold_id IS NOT NULL`)
    t.same(slots.rows, [], 'both expired holds lost their slots; their rows stay')
    t.ok(await store.reservations.getHold('h-taken'))
    // A writer whose clock is behind still sees the holds live.
    t.match(await store.reservations.confirmHold({ holdId: 'h-taken', reservationId: 'R-late', nowMs: T0 + 1000 }), { status: 'expired', hold: { holdId: 'h-taken' } }, 'its slot went to another booking')
    t.equal(await store.reservations.getReservation('R-late'), null, 'nothing written')
    t.match(await store.reservations.confirmHold({ holdId: 'h-free', reservationId: 'R-back', nowMs: T0 + 1000 }), { status: 'confirmed' }, 'its slot was still free')
    t.notOk((await store.reservations.createReservation(reservationInput({ nowMs: T0 + 60_000, candidates: [station('S2')] }))).ok, 'and it blocks again')
  })

  t.test('a hold confirmed by several pools at once becomes one reservation, and every confirm answers it', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const pools = await Promise.all([schema.open(), schema.open(), schema.open()])
    const T0 = Date.parse('2026-11-24T12:00:00Z')
    for (let i = 0; i < 10; i++) {
      const holdId = `h-race-${i}`
      const placed = await pools[0]!.reservations.placeHold(holdInput({ holdId, atMs: T0 + (3 + 3 * i) * 3_600_000, expiresAtMs: T0 + 30_000 }))
      t.ok(placed.ok)
      const outs = await Promise.all(pools.flatMap((p, k) => [0, 1].map((j) => p.reservations.confirmHold({ holdId, reservationId: `R-${i}-${k}-${j}`, nowMs: T0 + 1000 }))))
      const ids = new Set(outs.map((o) => (o.status === 'confirmed' ? o.reservation.reservationId : o.status)))
      t.equal(ids.size, 1, `one answer for ${holdId}: ${[...ids].join(', ')}`)
      const rows = await pg.sql<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${schema.name}.reservations WHERE hold_id = $1`, [holdId])
      t.equal(rows.rows[0]?.n, 1, 'one reservation')
      const hold = await pools[1]!.reservations.getHold(holdId)
      t.equal(hold?.reservationId, [...ids][0], 'the hold points at it')
    }
  })

  t.test('peer-hold transitions racing on several pools: one placement wins, the others answer it; confirm and release never both win', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const pools = await Promise.all([schema.open(), schema.open(), schema.open()])
    const T0 = Date.parse('2026-11-24T12:00:00Z')
    for (let i = 0; i < 10; i++) {
      const holdId = `ph-${i}`
      const placed = { holdId, peerHubId: 'peer', txId: `tx-${i}`, vehicleId: 'V', stationId: 'S1', position: { lat: 0, lon: 0 }, atMs: T0 + 3_600_000, expiresAtMs: T0 + 30_000, nowMs: T0 }
      const recorded = await Promise.all(pools.flatMap((p) => [p, p].map((q) => q.trips.recordPeerHold(placed))))
      t.equal(recorded.filter((r) => r === null).length, 1, 'exactly one placement is new')
      const [confirmed, released] = await Promise.all([
        pools[1]!.trips.peerHoldConfirmed({ holdId, reservationId: `r-${i}`, nowMs: T0 + 1 }),
        pools[2]!.trips.releasePeerHold({ holdId, peerHubId: 'peer', nowMs: T0 + 1 }),
      ])
      const end = await pools[0]!.trips.getPeerHold(holdId)
      if (confirmed) t.equal(end?.state, 'confirmed', 'the confirm came first; the release left it alone')
      else t.equal(end?.state, 'released', 'the release came first; the confirm was refused')
      t.ok(released && released !== 'foreign', 'the release found the entry')
    }
  })

  /**
   * Another writer's booking of station S1, inserted in a transaction left
   * open: what a concurrent booking looks like from outside until it commits.
   */
  async function openBooking(schema: string, atMs: number): Promise<{ commit(): Promise<void>; rollback(): Promise<void> }> {
    const c = new pgDriver.Client({ connectionString: pg.url })
    await c.connect()
    await c.query('BEGIN')
    await c.query(
      `WITH slot AS (INSERT INTO ${schema}.booking_slots (station_id, at_ms, window_ms, reservation_id) VALUES ('S1', $1, 7200000, 'other'))
       INSERT INTO ${schema}.reservations (reservation_id, station_id, vehicle_id, lat, lon, at_ms, created_at_ms) VALUES ('other', 'S1', 'VX', 0, 0, $1, 0)`,
      [atMs],
    )
    const end = async (sql: string) => {
      await c.query(sql)
      await c.end()
    }
    return { commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') }
  }
  /** Resolves once a session of this database waits for another transaction (the insert of an overlapping slot). */
  const someoneWaits = () =>
    waitUntil(
      async () => (await pg.sql("SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND l.locktype = 'transactionid' AND a.datname = $1", [pg.database])).rowCount,
      10_000,
      'a booking waiting on the open one',
    )

  t.test('a booking whose pick is taken by a booking committed after its check books the next free candidate and reports nothing lost', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const store = await schema.open()
    const AT = Date.parse('2026-11-24T15:00:00Z')
    const other = await openBooking(schema.name, AT)
    const booking = store.reservations.createReservation(reservationInput({ reservationId: 'mine', atMs: AT, candidates: [station('S1'), station('S2')] }))
    await someoneWaits()
    await other.commit()
    const r = await booking
    t.match(r, { ok: true, record: { reservationId: 'mine', stationId: 'S2' } }, 'S1 went to the other booking; S2 is the next free candidate')
    t.equal((await store.reservations.findBookings({ stationIds: ['S1', 'S2'], atMs: AT, windowMs: 7_200_000, nowMs: 0 })).length, 2)
  })

  t.test('a booking waiting on an overlapping booking that rolls back takes its first pick', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const store = await schema.open()
    const AT = Date.parse('2026-11-24T15:00:00Z')
    const other = await openBooking(schema.name, AT)
    const booking = store.reservations.placeHold(holdInput({ holdId: 'mine', atMs: AT, candidates: [station('S1'), station('S2')] }))
    await someoneWaits()
    await other.rollback()
    t.match(await booking, { ok: true, record: { holdId: 'mine', stationId: 'S1' } })
  })

  t.test('bookings of a station at other times, or of other candidates near it, do not wait for an open booking of it', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    // Were they to wait, they would fail BUSY after this long: the open booking ends only after them.
    const store = await schema.open({ busyTimeoutMs: 3000 })
    const AT = Date.parse('2026-11-24T15:00:00Z')
    const other = await openBooking(schema.name, AT)
    t.teardown(() => other.rollback())
    t.match(await store.reservations.createReservation(reservationInput({ atMs: AT + 3 * 3_600_000, candidates: [station('S1')] })), { ok: true, record: { stationId: 'S1' } }, 'same station, 3 h later')
    t.match(await store.reservations.placeHold(holdInput({ atMs: AT - 3 * 3_600_000, candidates: [station('S1'), station('S2')] })), { ok: true, record: { stationId: 'S1' } }, 'same station, 3 h earlier')
    t.match(await store.reservations.createReservation(reservationInput({ atMs: AT, candidates: [station('S2'), station('S1')] })), { ok: true, record: { stationId: 'S2' } }, 'a neighbour at the same time')
  })

  t.test('a prepared statement whose table was migrated meanwhile (by another replica) is run again on a fresh connection, alone or in a transaction', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const store = await schema.open({ max: 1 }) // one connection: the one that prepared the statements
    const r = await store.reservations.createReservation(reservationInput({ reservationId: 'r-1' }))
    const h = await store.reservations.placeHold(holdInput({ holdId: 'h-1', candidates: [station('S2')] }))
    t.ok(r.ok && h.ok)
    t.ok(await store.reservations.getReservation('r-1'))
    t.ok(await store.reservations.getHold('h-1'))
    // A column added by a newer replica changes what SELECT * returns: the server refuses the old plans (0A000).
    await pg.sql(`ALTER TABLE ${schema.name}.reservations ADD COLUMN note TEXT`)
    await pg.sql(`ALTER TABLE ${schema.name}.holds ADD COLUMN note TEXT`)
    t.match(await store.reservations.getReservation('r-1'), { reservationId: 'r-1' }, 'one statement')
    t.match(await store.reservations.confirmHold({ holdId: 'h-1', reservationId: 'r-2', nowMs: Date.parse('2026-11-24T12:00:00Z') }), { status: 'confirmed' }, 'a transaction (SELECT * FROM holds ... FOR UPDATE)')
  })

  t.test('a statement the database does not answer in time fails UNAVAILABLE and its connection is dropped; the next statement runs; migrations are not bounded', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    // pg_sleep stands for a server or a network gone silent: no answer, no error.
    const store = await schema.open({ max: 1, queryTimeoutMs: 300 })
    const started = Date.now()
    const err = await store.db.query('SELECT pg_sleep(5)').then(() => null, (e: unknown) => e)
    t.type(err, StoreError)
    t.equal((err as StoreError).code, 'UNAVAILABLE')
    t.match((err as Error).message, /did not answer a statement in time/)
    t.ok(Date.now() - started < 3_000, 'failed at the timeout, not when the statement ended')
    // One connection in the pool: the next statement would queue behind the unanswered one if it were kept.
    t.same((await store.db.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the next statement runs on a new connection')
    const inTx = await store.db.tx((tx) => tx.query('SELECT pg_sleep(5)')).then(() => null, (e: unknown) => e)
    t.equal((inTx as StoreError).code, 'UNAVAILABLE', 'in a transaction too')
    t.match(await store.reservations.createReservation(reservationInput({ reservationId: 'r-after' })), { ok: true }, 'and the store goes on')
    t.same((await store.db.tx((tx) => tx.query('SELECT 1 AS slept FROM pg_sleep(0.6)'), { unbounded: true })).rows, [{ slept: 1 }], 'an unbounded transaction (migrations) waits as long as it takes')
  })

  t.test('rule isActive in the database: two pools opening sessions of one station at once give exactly one', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const [a, b] = await Promise.all([schema.open(), schema.open()])
    const open = (i: number) => ((i % 2 ? a : b) as typeof a).charging.openSession({
      sessionId: `s${i}`, stationId: 'S1', vehicleId: `V${i}`, reservationId: null, startedAtMs: 1000, maxWh: null, priceMinorPerKwh: 73, currency: 'BRL',
    })
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => open(i)))
    t.equal(results.filter((r) => r.ok).length, 1)
    const winner = results.find((r) => r.ok)
    for (const r of results) if (!r.ok && winner?.ok) t.equal(r.active.sessionId, winner.session.sessionId)
    const raw = await pg.sql(
      `INSERT INTO ${schema.name}.sessions (session_id, station_id, vehicle_id, state, started_at_ms, price_minor_per_kwh, currency) VALUES ('raw', 'S1', 'V', 'charging', 1, 1, 'BRL')`,
    ).then(() => 'ok', (e: { code?: string }) => e.code)
    t.equal(raw, '23505', 'the partial unique index refuses a second active session written behind the store')
  })

  t.test('a session id opened by two pools at once (two replicas running one request) is opened once: the other gets DUPLICATE_ID', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const [a, b] = await Promise.all([schema.open(), schema.open()])
    // Each at its own station, so only the id can refuse one of them.
    const open = (i: number) => ((i % 2 ? a : b) as typeof a).charging.openSession({
      sessionId: 's-same', stationId: `S${i}`, vehicleId: 'V1', reservationId: null, startedAtMs: 1000, maxWh: null, priceMinorPerKwh: 73, currency: 'BRL',
    }).then((out) => out, (e: unknown) => (e instanceof StoreError ? e.code : e))
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => open(i)))
    t.equal(results.filter((r) => typeof r === 'object' && r !== null && 'ok' in r && r.ok).length, 1, 'one opened it')
    t.same(results.filter((r) => r === 'DUPLICATE_ID').length, 9, 'every other one was refused DUPLICATE_ID')
    t.equal((await pg.sql(`SELECT 1 FROM ${schema.name}.sessions`)).rowCount, 1, 'one row')
  })

  t.test('each station event once in the database: two pools storing one (station, epoch, seq) at once insert it once, and the ack covers it', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const [a, b] = await Promise.all([schema.open(), schema.open()])
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ((i % 2 ? a : b) as typeof a).charging.recordEvent('S1', 'ep-1', 1 + (i % 5), 'fault', '{}', 1)))
    t.equal(results.filter((r) => r.inserted).length, 5, 'seq 1..5, each inserted once')
    t.same(await a.charging.recordEvent('S1', 'ep-1', 6, 'fault', '{}', 1), { inserted: true, ackSeq: 6 })
    t.same(await a.charging.recordEvent('S1', 'ep-2', 1, 'fault', '{}', 1), { inserted: true, ackSeq: 1 }, 'another epoch is its own stream from seq 1')
  })

  t.test('the store installs btree_gist itself in a database that lacks it', async (t) => {
    const bare = await tempPostgres({ btreeGist: false })
    t.teardown(() => bare.dispose())
    const store = await PostgresStore.open({ url: bare.url })
    t.teardown(() => store.close())
    t.equal((await bare.sql("SELECT 1 FROM pg_extension WHERE extname = 'btree_gist'")).rowCount, 1)
    t.ok((await store.reservations.createReservation(reservationInput())).ok)
  })
}
