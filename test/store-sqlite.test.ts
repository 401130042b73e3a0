import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { LATEST_VERSION, MIGRATIONS, StoreError } from '../hub/store/index.js'
import { holdInput, reservationInput, storeContract } from './helpers/store-contract.js'
import { tempSqlite } from './helpers/store-sqlite.js'
import { accountsStoreContract, vehicle } from './helpers/store-accounts-contract.js'

storeContract(t, 'SqliteStore', async () => {
  const tmp = tempSqlite()
  return { store: tmp.open(), dispose: () => tmp.dispose() }
})

t.test('restart keeps reservations and holds (close and reopen the file)', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const first = tmp.open()
  const r = await first.reservations.createReservation(reservationInput({ reservationId: 'keep-me', vehicleId: 'V1' }))
  const h = await first.reservations.placeHold(holdInput({ holdId: 'hold-me', candidates: [{ stationId: 'S2', position: { lat: 1, lon: 2 } }] }))
  t.ok(r.ok && h.ok)
  await first.close()

  const again = tmp.open()
  t.same(await again.reservations.getReservation('keep-me'), r.ok ? r.record : null)
  t.same(await again.reservations.getHold('hold-me'), h.ok ? h.record : null)
  const clash = await again.reservations.createReservation(reservationInput({ vehicleId: 'V2' }))
  t.notOk(clash.ok, 'the reopened store still enforces the window against the old reservation')
})

t.test('the file is in dataDir, in WAL mode, with a busy timeout and the latest schema', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const store = tmp.open({ fileName: 'x.sqlite', busyTimeoutMs: 1234 })
  t.equal(store.file, join(tmp.dir, 'x.sqlite'))
  t.ok(existsSync(store.file))
  t.equal(store.db.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(store.db.pragma('busy_timeout', { simple: true }), 1234)
  t.equal(store.schemaVersion, LATEST_VERSION)
  t.equal(LATEST_VERSION, MIGRATIONS.length, 'migrations are numbered 1..n')
  await store.ping()
})

t.test('an older file is migrated forward on open', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const raw = new Database(join(tmp.dir, 'hub.sqlite'))
  t.equal(raw.pragma('user_version', { simple: true }), 0)
  raw.close()
  const store = tmp.open()
  t.equal(store.schemaVersion, LATEST_VERSION)
  t.ok((await store.reservations.createReservation(reservationInput())).ok)
})

t.test('a file written by a newer Voltway is refused with SCHEMA_TOO_NEW', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const raw = new Database(join(tmp.dir, 'hub.sqlite'))
  raw.pragma(`user_version = ${LATEST_VERSION + 1}`)
  raw.close()
  let err: unknown
  try {
    tmp.open()
  } catch (e) {
    err = e
  }
  t.ok(err instanceof StoreError && err.code === 'SCHEMA_TOO_NEW', 'throws StoreError SCHEMA_TOO_NEW')
  // A newer Voltway's file in rollback-journal mode: refused before anything (journal_mode = WAL) writes to it.
  const before = readFileSync(join(tmp.dir, 'hub.sqlite'))
  t.throws(() => tmp.open(), { code: 'SCHEMA_TOO_NEW' })
  t.ok(readFileSync(join(tmp.dir, 'hub.sqlite')).equals(before), 'the file is byte for byte as it was')
  const again = new Database(join(tmp.dir, 'hub.sqlite'), { readonly: true })
  t.equal(again.pragma('journal_mode', { simple: true }), 'delete', 'still in its own journal mode')
  again.close()
})

t.test('two connections to one file see each other and cannot double-book', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const a = tmp.open()
  const b = tmp.open()
  t.ok((await a.reservations.createReservation(reservationInput({ vehicleId: 'VA' }))).ok)
  t.notOk((await b.reservations.createReservation(reservationInput({ vehicleId: 'VB' }))).ok)
  t.equal((await b.reservations.listVehicleReservations('VA', 0)).length, 1)
})

accountsStoreContract(t, 'SqliteStore', async () => {
  const tmp = tempSqlite()
  return { store: tmp.open(), dispose: () => tmp.dispose() }
})

t.test('an account change made through another connection to the file (as the CLI makes it) is seen through the version', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const hub = tmp.open()
  const cli = tmp.open()
  const v = await hub.accounts.version()
  await cli.accounts.add(vehicle('V9'))
  t.ok((await hub.accounts.version()) > v)
  t.equal((await hub.accounts.get('V9'))?.kind, 'vehicle')
})

t.test("a file at schema 13 takes each event stream's last use from its newest stored event: the station's latest streams are kept", async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const raw = new Database(join(tmp.dir, 'hub.sqlite'))
  for (const m of MIGRATIONS.filter((x) => x.version <= 13)) raw.exec(m.sql)
  raw.pragma('user_version = 13')
  // 20 streams from before: `cur` has the newest events, though its name sorts first.
  const event = raw.prepare('INSERT INTO station_events (station_id, epoch, seq, type, body, received_at_ms) VALUES (?, ?, ?, ?, ?, ?)')
  const ack = raw.prepare('INSERT INTO station_acks (station_id, epoch, acked_seq) VALUES (?, ?, ?)')
  for (let i = 0; i < 19; i++) {
    event.run('S1', `old${String(i).padStart(2, '0')}`, 1, 'fault', '{}', 100 + i)
    ack.run('S1', `old${String(i).padStart(2, '0')}`, 1)
  }
  for (let seq = 1; seq <= 5; seq++) event.run('S1', 'a-cur', seq, 'fault', '{}', 10_000 + seq)
  ack.run('S1', 'a-cur', 5)
  raw.close()
  const store = tmp.open()
  t.equal(store.schemaVersion, LATEST_VERSION)
  t.equal(await store.charging.deleteStationEventsOlderThan(20_000, 1000), 24)
  t.equal(await store.charging.forgetStationStreamsUnusedSince(20_000, 1000), 17, 'every stream but the three latest')
  t.same(await store.charging.recordEvent('S1', 'a-cur', 6, 'fault', '{}', 20_001), { inserted: true, ackSeq: 6 }, 'the stream with the newest events kept its ack')
  t.same(await store.charging.recordEvent('S1', 'old17', 1, 'fault', '{}', 20_002), { inserted: false, ackSeq: 1 }, 'and so did the next two')
  t.same(await store.charging.recordEvent('S1', 'old16', 1, 'fault', '{}', 20_003), { inserted: true, ackSeq: 1 }, 'the others start afresh')
})
