/**
 * Healthy means able to serve: a database that cannot be written at start
 * stops the hub with exit 2 and a message; one that stops taking writes
 * turns `/healthz` 503 and every write answers STORAGE_UNAVAILABLE (never
 * INTERNAL), over MQTT and over the federation API alike.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { TestClock } from '../hub/clock.js'
import { SqliteStore } from '../hub/store/index.js'
import { ConfigError, formatTime } from '../protocol/index.js'
import { connectVehicle, hubConfig, startTestHub, tempDir } from './helpers/hub.js'
import { rawRequest } from './helpers/http-raw.js'

const T0 = '2026-11-24T12:00:00Z'
const inHours = (h: number): string => formatTime(Date.parse(T0) + h * 3600_000)
const HERE = { lat: -12.25, lon: -38.95 }
const PEER = { hubId: 'salvador', url: 'http://127.0.0.1:9', token: 'to-salvador', acceptToken: 'from-salvador' }

async function healthOf(url: string): Promise<{ status: number; body: unknown }> {
  const res = await request(`${url}/healthz`)
  return { status: res.statusCode, body: await res.body.json() }
}

/** Two ways storage stops taking writes, applied to the hub's own connection; each returns its undo. */
const FAULTS: Record<string, (s: SqliteStore) => () => void> = {
  'a read-only database (SQLITE_READONLY)': (s) => {
    s.db.pragma('query_only = 1')
    return () => s.db.pragma('query_only = 0')
  },
  'a full disk (SQLITE_FULL)': (s) => {
    // Cap the file at its size, then fill its free pages: the next write that needs a page fails as on a full disk.
    s.db.exec('CREATE TABLE IF NOT EXISTS test_filler (b BLOB)')
    s.db.pragma(`max_page_count = ${s.db.pragma('page_count', { simple: true }) as number}`)
    for (;;) {
      try {
        s.db.prepare('INSERT INTO test_filler VALUES (randomblob(512))').run()
      } catch {
        break
      }
    }
    return () => s.db.pragma('max_page_count = 1073741823')
  },
}

for (const [fault, apply] of Object.entries(FAULTS)) {
  t.test(`storage that stops taking writes turns /healthz 503 and every write answers STORAGE_UNAVAILABLE: ${fault}`, async (t) => {
    const cfg = hubConfig({ federation: { peers: [PEER], links: [] } })
    const store = new SqliteStore({ dataDir: cfg.dataDir })
    const clock = new TestClock(T0)
    const hub = await startTestHub(cfg, { store, clock })
    t.teardown(() => hub.close())
    const v = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
    t.teardown(() => v.close())
    const booked = await v.rpc.request('reservation.create', { at: inHours(3), position: HERE, rangeKm: 10 })
    t.equal((await healthOf(hub.httpUrl)).status, 200)

    const undo = apply(store)
    // Until a write needs space it does not have (at once when read-only); never INTERNAL.
    let refused: unknown = null
    for (let i = 0; i < 400 && refused === null; i++) {
      refused = await v.rpc.request('reservation.create', { at: inHours(6 + 3 * i), position: HERE, rangeKm: 10 }).then(() => null, (e: unknown) => e)
    }
    t.match(refused, { code: 'STORAGE_UNAVAILABLE' }, 'reservation.create answers STORAGE_UNAVAILABLE')
    const h = await healthOf(hub.httpUrl)
    t.equal(h.status, 503, '/healthz is 503')
    t.match(h.body, { ok: false, database: false })
    t.match(await v.rpc.request('reservation.list', {}), { reservations: [{ reservationId: booked.reservation.reservationId }] }, 'reads still work')

    const port = Number(new URL(hub.httpUrl).port)
    const statuses: number[] = []
    for (let i = 0; i < 40 && !statuses.includes(503); i++) {
      const hold = await rawRequest(port, 'POST', '/federation/v1/holds', { authorization: 'Bearer from-salvador', 'idempotency-key': `k${i}`, 'content-type': 'application/json' }, JSON.stringify({
        holdId: `h-${i}`, txId: `t-${i}`, txStartedAt: T0, vehicleId: 'V9', at: inHours(200 + 3 * i), from: HERE, rangeKm: 10, ttlSeconds: 30,
      }))
      statuses.push(hold.status)
      if (hold.status === 503) t.match(JSON.parse(hold.body), { error: { code: 'STORAGE_UNAVAILABLE' } }, 'a federation write answers 503 STORAGE_UNAVAILABLE')
    }
    t.ok(statuses.includes(503) && statuses.every((s) => s === 201 || s === 503), `federation writes: 201 while they fit, then 503, never 500 (${statuses.join(' ')})`)

    undo()
    clock.advance(31_000)
    t.equal((await healthOf(hub.httpUrl)).status, 200, 'healthy again once writes succeed')
    await v.rpc.request('reservation.create', { at: inHours(6), position: HERE, rangeKm: 10 })
    t.pass('and writes work again')
  })
}

t.test('a database that cannot be written at start stops the hub with a ConfigError naming dataDir', async (t) => {
  const cfg = hubConfig()
  const store = new SqliteStore({ dataDir: cfg.dataDir })
  store.db.pragma('query_only = 1')
  const err = await startTestHub(cfg, { store }).then(
    async (h) => h.close(),
    (e: unknown) => e,
  )
  t.type(err, ConfigError)
  t.match((err as Error).message, /^hub\.json: dataDir ".*": the database cannot be written \(.*\); check /)
})

t.test('voltway hub with an unwritable dataDir exits 2 with a message', async (t) => {
  const dir = tempDir()
  const file = join(dir, 'not-a-dir')
  writeFileSync(file, 'x')
  // A dataDir under /proc (a typo) made the hub hang at start: Node's recursive mkdir retries ENOENT there forever.
  for (const dataDir of [join(file, 'data'), dir, ...(process.platform === 'linux' ? ['/proc/voltway-typo/data'] : [])]) {
    if (dataDir === dir) writeFileSync(join(dir, 'hub.sqlite'), 'this is not a database, it is a text file of some length'.repeat(40))
    const cfgFile = join(dir, `hub-${dataDir === dir ? 'b' : dataDir.startsWith('/proc') ? 'c' : 'a'}.json`)
    writeFileSync(cfgFile, JSON.stringify({ ...hubConfig(), dataDir }))
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli.ts', 'hub', '--config', cfgFile], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, VOLTWAY_LOG_LEVEL: 'silent' } })
    t.equal(r.status, 2, `exit 2 for ${dataDir}`)
    t.equal(r.stderr.split('\n')[0]?.startsWith(`${cfgFile}: dataDir "${dataDir}": cannot`), true, `the line starts with the config file, then names dataDir: ${r.stderr}`)
    t.notMatch(r.stdout, /ready/, 'never says ready')
  }
})
