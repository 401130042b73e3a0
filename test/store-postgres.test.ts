/**
 * The Store contract on PostgreSQL (the same suite as memory and SQLite),
 * and what only PostgreSQL has: migrations in `voltway_schema`, the booking
 * window and one active session per station kept by the database itself.
 */
import t from 'tap'
import { PG_LATEST_VERSION, PG_MIGRATIONS, StoreError } from '../hub/store/index.js'
import { holdInput, reservationInput, storeContract } from './helpers/store-contract.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'

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
  })

  t.test('a server that is not there is StoreError UNAVAILABLE', async (t) => {
    const err = await import('../hub/store/index.js').then(({ PostgresStore }) =>
      PostgresStore.open({ url: 'postgres://postgres@127.0.0.1:1/nothing', connectTimeoutMs: 1000 }).then(() => null, (e: unknown) => e),
    )
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
}
