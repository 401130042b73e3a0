/**
 * A serving hub's SQLite store checkpoints its WAL in a worker thread
 * (hub/store/sqlite/checkpointer.ts), not inside its own COMMITs: the log
 * reaches the database file while the writer's own threshold is far away,
 * the booking index stays in use (a checkpoint is no other writer), and
 * closing the store stops the worker and leaves no log behind.
 */
import { existsSync, rmSync, statSync } from 'node:fs'
import t from 'tap'
import Database from 'better-sqlite3'
import { SqliteStore } from '../hub/store/index.js'
import { tempDir } from './helpers/hub-config.js'
import { waitUntil } from './helpers/net.js'

const position = { lat: -12.97, lon: -38.5 }
const HOUR = 3_600_000

async function book(store: SqliteStore, n: number, from: number): Promise<void> {
  const base = Date.parse('2026-12-01T00:00:00Z')
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      store.reservations.createReservation({ reservationId: `r-${from + i}-${'x'.repeat(200)}`, vehicleId: 'V1', atMs: base + (from + i) * 4 * HOUR, candidates: [{ stationId: `S${(from + i) % 50}`, position }], windowMs: HOUR, nowMs: base - HOUR }),
    ),
  )
}

t.test('the worker copies the WAL into the database file while the writer never checkpoints; close leaves no WAL', async (t) => {
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = new SqliteStore({ dataDir: dir, backgroundCheckpoints: true })
  t.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 10_000, "the writer's own checkpoint is only a safety net")
  const before = statSync(store.file).size
  for (let k = 0; k < 20; k++) await book(store, 100, k * 100)
  const grown = await waitUntil(() => {
    const size = statSync(store.file).size
    return size > before + 100_000 ? size : null
  }, 10_000, 'the database file to take the log in')
  t.ok(grown > before, `database file ${before} -> ${grown} bytes, checkpointed by the worker`)
  // Another connection's checkpoint changes no data: the hub's connection keeps its data_version.
  const version = store.db.pragma('data_version', { simple: true })
  await new Promise((r) => setTimeout(r, 300))
  t.equal(store.db.pragma('data_version', { simple: true }), version, 'checkpoints are not seen as another writer')
  await store.close()
  t.notOk(existsSync(`${store.file}-wal`), 'no WAL file after close')
  const check = new Database(store.file, { readonly: true })
  t.equal((check.prepare('SELECT count(*) AS n FROM reservations').get() as { n: number }).n, 2000, 'every reservation is in the file')
  check.close()
})

t.test('without the option (commands, tests) the writer checkpoints as SQLite does by default', async (t) => {
  const dir = tempDir()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = new SqliteStore({ dataDir: dir })
  t.teardown(() => store.close())
  t.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 1000)
})
