/**
 * hub.json `store`: SQLite in dataDir by default, or PostgreSQL; the hub
 * builds the store the file names, and says clearly when it cannot.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadHubConfig } from '../hub/config.js'
import { ConfigError, formatTime } from '../protocol/index.js'
import { StoreError } from '../hub/store/index.js'
import { PgDatabase } from '../hub/store/postgres/pool.js'
import { connectVehicle, hubConfig, startTestHub, tempDir } from './helpers/hub.js'
import { PG_ADMIN_URL, postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'

const base = { hubId: 'feira', name: 'F', city: 'C', position: { lat: 0, lon: 0 }, currency: 'BRL', dataDir: './data', http: { port: 0 } }
const load = (extra: Record<string, unknown>) => {
  const file = join(tempDir(), 'hub.json')
  writeFileSync(file, JSON.stringify({ ...base, ...extra }))
  return loadHubConfig(file)
}

t.test('store: SQLite in dataDir unless told; postgres takes a url and an optional schema; anything else is refused naming the field', async (t) => {
  t.same(load({}).store, { type: 'sqlite' })
  t.same(load({ store: { type: 'sqlite' } }).store, { type: 'sqlite' })
  t.same(load({ store: { type: 'postgres', url: 'postgres://voltway@db:5432/voltway' } }).store, { type: 'postgres', url: 'postgres://voltway@db:5432/voltway' })
  t.same(load({ store: { type: 'postgres', url: 'postgresql://v:pw@db/v', schema: 'feira_hub' } }).store, { type: 'postgres', url: 'postgresql://v:pw@db/v', schema: 'feira_hub' })
  t.throws(() => load({ store: { type: 'mysql' } }), { message: /store\.type/ })
  t.throws(() => load({ store: { type: 'postgres' } }), { message: /store\.url/ })
  t.throws(() => load({ store: { type: 'postgres', url: 'http://db/v' } }), { message: /store\.url: expected a postgres:\/\/user@host:5432\/database URL/ })
  t.throws(() => load({ store: { type: 'postgres', url: 'postgres://db/v', schema: 'Feira; DROP' } }), { message: /store\.schema: expected a lower-case SQL identifier/ })
  t.throws(() => load({ store: { type: 'sqlite', url: 'x' } }), ConfigError, 'a sqlite store takes no url')
  t.same(load({ store: { type: 'postgres', url: 'postgres://db/v', poolSize: 4 } }).store, { type: 'postgres', url: 'postgres://db/v', poolSize: 4 })
  t.throws(() => load({ store: { type: 'postgres', url: 'postgres://db/v', poolSize: 0 } }), { message: /store\.poolSize/ })
  t.throws(() => load({ store: { type: 'postgres', url: 'postgres://db/v', poolSize: 2.5 } }), { message: /store\.poolSize/ })
  // A URL the driver cannot read fails here (exit 2), not as a server that does not answer (exit 1, systemd retrying forever).
  for (const url of ['postgres://postgres@127.0.0.1:notaport/x', 'postgres://u:p#x@db/v']) {
    t.throws(() => load({ store: { type: 'postgres', url } }), { message: /store\.url: not a URL the PostgreSQL driver can read/ }, url)
  }
  for (const url of ['postgres://user@/db?host=/var/run/postgresql', 'postgresql:///db?host=/tmp', 'postgres://u:p%23x@[::1]:5432/v?sslmode=require']) {
    t.equal((load({ store: { type: 'postgres', url } }).store as { url: string }).url, url, `read as the driver reads it: ${url}`)
  }
})

const skip = await postgresSkipReason()
if (skip) {
  t.skip(`SKIP hub on PostgreSQL: ${skip}`, () => undefined)
} else {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())

  t.test('a hub with store postgres books in PostgreSQL: the reservation is in the database, not in dataDir', async (t) => {
    const schema = pg.schema()
    t.teardown(() => schema.dispose())
    const hub = await startTestHub(hubConfig({ store: { type: 'postgres', url: pg.url, schema: schema.name } }))
    t.teardown(() => hub.close())
    const v = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
    t.teardown(() => v.close())
    const made = await v.rpc.request('reservation.create', { at: formatTime(Date.now() + 3 * 3_600_000), position: { lat: -12.25, lon: -38.95 }, rangeKm: 10 })
    const other = await schema.open()
    t.match(await other.reservations.getReservation(made.reservation.reservationId), { vehicleId: 'V1', stationId: made.reservation.stationId })
  })

  t.test('a PostgreSQL database that does not exist stops the hub with a ConfigError naming the store, without its password', async (t) => {
    const u = new URL(PG_ADMIN_URL)
    u.password = 'secret-pw'
    u.pathname = '/voltway_no_such_database'
    const err = await startTestHub(hubConfig({ store: { type: 'postgres', url: u.toString() } })).then(() => null, (e: unknown) => e)
    t.ok(err instanceof ConfigError, `ConfigError (${String(err)})`)
    t.match((err as Error).message, /^hub\.json: store "postgres:\/\/[^"]*\/voltway_no_such_database": cannot open the database: .*; check the URL/)
    t.notMatch((err as Error).message, /secret-pw/)
  })

  t.test('every pooled connection in use for the whole wait is BUSY (the database is there), a server that does not answer is UNAVAILABLE', async (t) => {
    const db = new PgDatabase({ url: pg.url, max: 1, connectTimeoutMs: 200 })
    t.teardown(() => db.close())
    const held = await db.pool.connect()
    const err = await db.query('SELECT 1').then(() => null, (e: unknown) => e)
    held.release()
    t.ok(err instanceof StoreError && err.code === 'BUSY', `StoreError BUSY (${String(err)})`)
    t.match((err as Error).message, /store\.poolSize/, 'the message names the setting')
    t.same((await db.query<{ n: number }>('SELECT 1 AS n')).rows, [{ n: 1 }], 'served once a connection is free')
    const gone = new PgDatabase({ url: 'postgres://postgres@127.0.0.1:1/x', max: 1, connectTimeoutMs: 200 })
    t.teardown(() => gone.close())
    const err2 = await gone.query('SELECT 1').then(() => null, (e: unknown) => e)
    t.ok(err2 instanceof StoreError && err2.code === 'UNAVAILABLE', `StoreError UNAVAILABLE (${String(err2)})`)
  })

  t.test('a PostgreSQL server that does not answer is not a config error: StoreError UNAVAILABLE (exit 1, so systemd retries)', async (t) => {
    const err = await startTestHub(hubConfig({ store: { type: 'postgres', url: 'postgres://postgres@127.0.0.1:1/x' } })).then(() => null, (e: unknown) => e)
    t.ok(err instanceof StoreError && err.code === 'UNAVAILABLE', `StoreError UNAVAILABLE (${String(err)})`)
    t.match((err as Error).message, /^hub\.json: store "postgres:\/\/postgres@127\.0\.0\.1:1\/x": the PostgreSQL server does not answer \(.*ECONNREFUSED.*\); check that it runs/, 'the line names the store and what to do, not a bare ECONNREFUSED')
  })
}
