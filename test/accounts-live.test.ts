/**
 * Accounts change while the hub runs (docs/configuration.md "Accounts"): the
 * real CLI writes the hub's SQLite file from another process, the hub's poll
 * picks the change up, its broker lets new logins in and throws removed ones
 * out; stations enroll with a one-time code; nothing the hub writes holds a
 * clear-text password.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { connectAsync } from 'mqtt'
import t from 'tap'
import type { Hub } from '../hub/app.js'
import { connectVehicle, hubConfig, startTestHub, tempDir } from './helpers/hub.js'
import { FakeStation } from './helpers/fake-station.js'
import { accountsCaughtUp } from './helpers/accounts.js'
import { runCli, waitUntil } from './helpers/station-agent.js'

const config = hubConfig({ operators: [{ name: 'ops', token: 'operator-token-0123456789' }] })
const file = join(tempDir('voltway-hubjson-'), 'hub.json')
writeFileSync(file, JSON.stringify(config))
/** Every clear-text secret this file uses, for the last test. */
const secrets = ['v1-pass', 'v2-pass', 's3cret-1', 's3cret-2']
let hub: Hub

t.before(async () => {
  hub = await startTestHub(config)
  await hub.accounts.seeded
})
t.teardown(() => hub.close())

const caughtUp = (): Promise<void> => accountsCaughtUp(hub)
const cli = async (args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> => runCli(['hub', ...args, '--config', file], 30_000, input)

t.test('a vehicle added with the CLI while the hub runs logs in within a second', async (t) => {
  const r = await cli(['vehicle', 'add', '--id', 'V9', '--password-stdin'], 'v9-own-secret\n')
  const doneAt = performance.now()
  secrets.push('v9-own-secret')
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '', 'a password given on stdin is not printed')
  await caughtUp()
  const v = await connectVehicle(hub.mqttUrl, hub.hubId, 'V9', 'v9-own-secret')
  const ms = performance.now() - doneAt
  t.ok(ms < 1000, `logged in ${ms.toFixed(0)} ms after the CLI returned`)
  t.comment(`CLI exit -> login: ${ms.toFixed(0)} ms`)
  await v.close()

  const gen = await cli(['vehicle', 'add', '--id', 'V10'])
  t.equal(gen.code, 0, gen.stderr)
  const password = gen.stdout.trim()
  secrets.push(password)
  t.match(password, /^[A-Za-z0-9_-]{43}$/, 'without --password-stdin the CLI prints a generated password')
  const v10 = await waitUntil(() => connectVehicle(hub.mqttUrl, hub.hubId, 'V10', password).catch(() => null), 2000, 'V10 login')
  await v10.close()

  const dup = await cli(['vehicle', 'add', '--id', 'FSA-1'])
  t.equal(dup.code, 1)
  t.match(dup.stderr, /ACCOUNT_EXISTS/, 'a vehicle may not take a station id')
  t.match(dup.stderr, /a station FSA-1 exists already \(vehicles and stations share ids\); pick another id, or change that station's password \(`voltway hub station passwd --id FSA-1`/, 'the message names the kind that has the id, so its passwd is the right one')
})

t.test('a removed vehicle is refused and disconnected', async (t) => {
  const v = await connectVehicle(hub.mqttUrl, hub.hubId, 'V1', 'v1-pass')
  const closed = new Promise<void>((resolve) => v.client.once('close', () => resolve()))
  const r = await cli(['vehicle', 'remove', '--id', 'V1'])
  t.equal(r.code, 0, r.stderr)
  const at = performance.now()
  await closed
  t.ok(performance.now() - at < 1000, 'its live connection is closed within a second')
  await t.rejects(connectAsync(hub.mqttUrl, { username: 'V1', password: 'v1-pass', protocolVersion: 5, reconnectPeriod: 0 }), { code: 134 }, 'a new login is refused: bad user name or password')
  const again = await cli(['vehicle', 'remove', '--id', 'V1'])
  t.equal(again.code, 1)
  t.match(again.stderr, /NOT_FOUND/)
})

t.test('a changed password disconnects the vehicle and only the new one logs in', async (t) => {
  const v = await connectVehicle(hub.mqttUrl, hub.hubId, 'V2', 'v2-pass')
  const closed = new Promise<void>((resolve) => v.client.once('close', () => resolve()))
  const r = await cli(['vehicle', 'passwd', '--id', 'V2', '--password-stdin'], 'v2-new-secret')
  secrets.push('v2-new-secret')
  t.equal(r.code, 0, r.stderr)
  await closed
  await t.rejects(connectAsync(hub.mqttUrl, { username: 'V2', password: 'v2-pass', protocolVersion: 5, reconnectPeriod: 0 }), { code: 134 })
  const fresh = await connectVehicle(hub.mqttUrl, hub.hubId, 'V2', 'v2-new-secret')
  await fresh.close()
})

t.test('a station enrolled with a code comes online, is bookable, and its code cannot be used twice', async (t) => {
  const added = await cli(['station', 'add', '--id', 'S9', '--lat', '-12.27', '--lon', '-38.97', '--power-kw', '11', '--price-minor-per-kwh', '55'])
  t.equal(added.code, 0, added.stderr)
  const code = /--enroll (\S+)/.exec(added.stdout)?.[1] ?? ''
  t.match(code, /^[A-Za-z0-9_-]{22}$/, 'station add prints a one-time code and the init line')
  secrets.push(code)
  const init = ['station', 'init', '--id', 'S9', '--hub', hub.mqttUrl, '--hub-http', hub.httpUrl, '--enroll', code]
  const first = await runCli(init)
  t.equal(first.code, 0, first.stderr)
  const stationJson = JSON.parse(first.stdout) as { stationId: string; hubId: string; mqtt: { url: string; password: string } }
  t.equal(stationJson.hubId, hub.hubId)
  secrets.push(stationJson.mqtt.password)

  const station = await FakeStation.connect(hub.mqttUrl, 'S9', stationJson.mqtt.password, () => ({ ok: true }))
  t.teardown(() => station.close())
  await station.state()
  await waitUntil(() => hub.context.stations.get('S9')?.live.online, 2000, 'S9 online')
  t.match(hub.context.stations.get('S9'), { position: { lat: -12.27, lon: -38.97 }, powerKw: 11, priceMinorPerKwh: 55 })
  const listed = await cli(['station', 'list'])
  t.equal(listed.code, 0, listed.stderr)
  t.match(listed.stdout, /^S9 {2}password set {2}updated \S+ {2}-12\.27,-38\.97 {2}11 kW {2}0\.55 BRL\/kWh$/m, "station list writes the price as everywhere else (0.55 BRL/kWh), not in minor units (55/kWh)")
  const v = await connectVehicle(hub.mqttUrl, hub.hubId, 'V9', 'v9-own-secret')
  t.teardown(() => v.close())
  const at = new Date(Date.now() + 3 * 3600_000).toISOString()
  const booked = await v.rpc.request('reservation.create', { at, position: { lat: -12.27, lon: -38.97 }, rangeKm: 1, stationId: 'S9' })
  t.equal(booked.reservation.stationId, 'S9', 'a station added at runtime is bookable')

  const second = await runCli(init)
  t.equal(second.code, 1)
  t.match(second.stderr, /ENROLLMENT_REFUSED.*used already.*voltway hub station passwd --id S9 --enroll/, 'a reused code is refused with its cause and the way out')
  t.equal(second.stdout, '')
})

t.test('a removed station is refused and leaves the registry', async (t) => {
  const s = await FakeStation.connect(hub.mqttUrl, 'FSA-2', 's3cret-2', () => ({ ok: true }))
  const closed = new Promise<void>((resolve) => s.client.once('close', () => resolve()))
  const r = await cli(['station', 'remove', '--id', 'FSA-2'])
  t.equal(r.code, 0, r.stderr)
  await closed
  await waitUntil(() => !hub.context.stations.has('FSA-2'), 2000, 'FSA-2 gone')
  await t.rejects(FakeStation.connect(hub.mqttUrl, 'FSA-2', 's3cret-2', () => ({ ok: true })), { code: 134 })
  await s.close()
})

t.test('no clear-text password is left in any file or table the hub writes', async (t) => {
  await hub.accounts.seeded
  await hub.close()
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      if (statSync(p).isDirectory()) walk(p)
      else files.push(p)
    }
  }
  walk(config.dataDir)
  t.ok(files.some((f) => f.endsWith('hub.sqlite')), `scanned ${files.length} files`)
  for (const f of files) {
    const bytes = readFileSync(f)
    for (const s of secrets) t.notOk(bytes.includes(Buffer.from(s)), `${f} does not contain "${s.slice(0, 4)}..."`)
  }
  const db = new Database(join(config.dataDir, 'hub.sqlite'), { readonly: true })
  t.teardown(() => db.close())
  const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all()
  let rows = 0
  for (const { name } of tables) {
    const text = JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all())
    rows++
    for (const s of secrets) t.notOk(text.includes(s), `table ${name} does not contain "${s.slice(0, 4)}..."`)
  }
  t.ok(rows > 0)
  const hashes = db.prepare<[], { password_hash: string | null }>('SELECT password_hash FROM accounts').all()
  t.ok(hashes.length > 0 && hashes.every((h) => h.password_hash === null || /^(seed:)?\$scrypt\$N=16384,r=8,p=1\$/.test(h.password_hash)), 'passwords are stored as scrypt hashes')
})
