/**
 * Accounts and an external Mosquitto (hub.json `mqtt.mosquitto`,
 * docs/operator-guide.md "Accounts and an external Mosquitto"): the running
 * hub rewrites Mosquitto's password and ACL files from its store after every
 * change and sends SIGHUP to the pid in the pid file. A real Mosquitto
 * process and the real CLI in another process: a vehicle added while both
 * run logs in at Mosquitto, a removed one is refused there, and neither file
 * holds a clear-text password.
 */
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import { pino } from 'pino'
import t from 'tap'
import { MosquittoSync } from '../hub/accounts/index.js'
import { accountsCaughtUp } from './helpers/accounts.js'
import type { Hub } from '../hub/app.js'
import { mosquittoAclFile, mosquittoPasswordFile, mosquittoPasswordHash } from '../hub/broker/mosquitto-acl.js'
import { SEEDED } from '../hub/broker/password-hash.js'
import { loadHubConfig } from '../hub/config.js'
import type { AccountRecord } from '../hub/store/index.js'
import { connectVehicle, hubConfig, startTestHub, tempDir } from './helpers/hub.js'
import { mosquittoBinary, runMosquittoConf, type MosquittoProcess } from './helpers/mosquitto.js'
import { freePort } from './helpers/net.js'
import { runCli, waitUntil } from './helpers/station-agent.js'

const skip = mosquittoBinary() ? false : 'mosquitto is not installed'
const HUB = { username: 'hub.feira', password: 'hub-mqtt-secret' }
const secrets = ['v1-pass', 'v2-pass', 's3cret-1', 's3cret-2', HUB.password]

t.test('hub.json mqtt.mosquitto: paths are relative to the file; all three are required', async (t) => {
  const dir = tempDir('voltway-mosq-config-')
  const file = join(dir, 'hub.json')
  const cfg = (mosquitto: Record<string, string>) => JSON.stringify({ ...hubConfig(), mqtt: { url: 'mqtt://127.0.0.1:1883', ...HUB, mosquitto } })
  writeFileSync(file, cfg({ passwordFile: 'm/passwd', aclFile: 'm/acl', pidFile: '/run/mosquitto/mosquitto.pid' }))
  const loaded = loadHubConfig(file).mqtt
  t.same('url' in loaded ? loaded.mosquitto : null, { passwordFile: join(dir, 'm/passwd'), aclFile: join(dir, 'm/acl'), pidFile: '/run/mosquitto/mosquitto.pid' })
  writeFileSync(file, cfg({ passwordFile: 'p', aclFile: 'a' }))
  t.throws(() => loadHubConfig(file), /mqtt\.mosquitto\.pidFile/, 'a missing pidFile is named')
})

t.test('the files hold hashes only: an account without a Mosquitto hash is left out and named, an unenrolled station too, replica logins are kept', async (t) => {
  const dir = tempDir('voltway-mosq-files-')
  const files = { passwordFile: join(dir, 'passwd'), aclFile: join(dir, 'acl'), pidFile: join(dir, 'none.pid') }
  writeFileSync(files.passwordFile, `hub.feira:${mosquittoPasswordHash(HUB.password)}\nhub.feira.r2:$7$101$cmVwbGljYQ==$aGFzaA==\nhub.feira.r2/requests:$7$101$cmVwbGljYQ==$aGFzaA==\nstranger:$7$101$eA==$eQ==\n`)
  const sync = new MosquittoSync({ hubId: 'feira', files, hub: HUB, configPasswords: new Map([['SEEDED-V', 'seeded-pass']]), logger: pino({ level: 'silent' }) })
  const acct = (id: string, over: Partial<AccountRecord>): AccountRecord => ({ id, kind: 'vehicle', passwordHash: '$scrypt$x', brokerHash: null, station: null, createdAtMs: 0, updatedAtMs: 0, ...over })
  const out = sync.apply([
    acct('NEW-V', { brokerHash: '$7$101$c2FsdA==$aGFzaA==' }),
    acct('OLD-V', {}),
    acct('SEEDED-V', { passwordHash: `${SEEDED}$scrypt$y` }),
    acct('S-NEW', { kind: 'station', passwordHash: null }),
  ])
  t.same(out.unwritable, ['OLD-V'], 'set before mqtt.mosquitto: no hash to write')
  t.equal(out.reloaded, false, 'no pid file: nothing to signal')
  const passwd = readFileSync(files.passwordFile, 'utf8')
  t.same(passwd.trim().split('\n').map((l) => l.split(':')[0]), ['hub.feira', 'hub.feira/requests', 'hub.feira.r2', 'hub.feira.r2/requests', 'NEW-V', 'SEEDED-V'], "the hub's logins (its request login written from hub.json's password) and a replica's kept, accounts from the store, no stranger, no unenrolled station")
  t.match(passwd, /^NEW-V:\$7\$101\$c2FsdA==\$aGFzaA==$/m, 'the stored hash, as it is')
  t.notOk(passwd.includes('seeded-pass') || passwd.includes(HUB.password), 'no clear text')
  t.equal(statSync(files.passwordFile).mode & 0o777, 0o640)
  t.match(readFileSync(files.aclFile, 'utf8'), /^user hub\.feira\.r2\ntopic readwrite voltway\/v1\/#$/m, 'a replica keeps the hub rights')
})

t.test("a hub username with no room for its request login is refused by the running hub's sync as by hub acl, and nothing is written", async (t) => {
  const dir = tempDir('voltway-sync-long-')
  const files = { passwordFile: join(dir, 'passwd'), aclFile: join(dir, 'acl'), pidFile: join(dir, 'mosquitto.pid') }
  const sync = new MosquittoSync({ hubId: 'feira', files, hub: { username: 'u'.repeat(248), password: 'hub-pass' }, configPasswords: new Map(), logger: pino({ level: 'silent' }) })
  t.throws(() => sync.apply([]), { name: 'ConfigError', message: /^hub\.json: mqtt\.username: .*leaves no room for the hub's login .*\/requests" \(257 characters\).*use at most 247 characters$/ })
  t.notOk(existsSync(files.passwordFile), 'no password file written')
})

t.test('accounts reach an external Mosquitto while the hub runs', { skip }, async (t) => {
  const dir = tempDir('voltway-mosq-sync-')
  const port = await freePort()
  const files = { passwordFile: join(dir, 'passwd'), aclFile: join(dir, 'acl'), pidFile: join(dir, 'mosquitto.pid') }
  // Mosquitto's first files hold the hub's login only (as `voltway hub acl` would write them); the hub writes the rest.
  const first = { hubId: 'feira', hub: HUB, stations: [], vehicles: [] }
  writeFileSync(files.passwordFile, mosquittoPasswordFile(first), { mode: 0o600 })
  writeFileSync(files.aclFile, mosquittoAclFile(first), { mode: 0o600 })
  const confFile = join(dir, 'mosquitto.conf')
  writeFileSync(
    confFile,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${files.passwordFile}`,
      `acl_file ${files.aclFile}`,
      `pid_file ${files.pidFile}`,
      'use_username_as_clientid true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      // "Reloading config." is logged at this level: the test waits for it instead of sleeping.
      'log_type information',
      '',
    ].join('\n'),
  )
  // As root, Mosquitto would switch to user `mosquitto` before reading the files (and its reloads).
  if (process.getuid?.() === 0) appendFileSync(confFile, 'user root\n')
  const m: MosquittoProcess = await runMosquittoConf(confFile, port, dir)
  t.teardown(() => m.close())
  await waitUntil(() => readFileSync(files.pidFile, 'utf8').trim() !== '' || null, 10_000, "Mosquitto's pid file")
  const reloads = (): number => m.log().split('Reloading config.').length - 1

  const config = hubConfig({ mqtt: { url: m.url, ...HUB, mosquitto: files } })
  const hubJson = join(tempDir('voltway-hubjson-'), 'hub.json')
  writeFileSync(hubJson, JSON.stringify(config))
  const hub: Hub = await startTestHub(config)
  t.teardown(() => hub.close())
  await hub.accounts.seeded

  const hubCaughtUp = (): Promise<void> => accountsCaughtUp(hub)
  const cli = (args: string[], input?: string) => runCli(['hub', ...args, '--config', hubJson], 30_000, input)
  const login = (username: string, password: string) => connectAsync(m.url, { username, password, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 })
  /** Whether Mosquitto takes the login now (it reads its files again on the SIGHUP the hub sent: wait for that, not for a fixed time). */
  const accepted = async (username: string, password: string): Promise<boolean> => {
    try {
      await (await login(username, password)).endAsync()
      return true
    } catch {
      return false
    }
  }
  const DEADLINE_MS = 10_000

  await t.test('a vehicle seeded from hub.json logs in at Mosquitto', async (t) => {
    const v = await connectVehicle(m.url, 'feira', 'V1', 'v1-pass')
    t.pass('V1 logged in')
    await v.close()
  })

  await t.test('a vehicle added with `voltway hub vehicle add` logs in at Mosquitto', async (t) => {
    t.notOk(await accepted('V9', 'v9-own-secret'), 'unknown before')
    const reloadsBefore = reloads()
    const r = await cli(['vehicle', 'add', '--id', 'V9', '--password-stdin'], 'v9-own-secret\n')
    const doneAt = performance.now()
    secrets.push('v9-own-secret')
    t.equal(r.code, 0, r.stderr)
    await hubCaughtUp()
    await waitUntil(() => accepted('V9', 'v9-own-secret'), DEADLINE_MS, 'Mosquitto to let V9 in')
    t.comment(`CLI exit -> login at Mosquitto: ${(performance.now() - doneAt).toFixed(0)} ms (the hub polls every 300 ms)`)
    t.ok(reloads() > reloadsBefore, 'Mosquitto reloaded its files (SIGHUP), it was not restarted')
    const v = await connectVehicle(m.url, 'feira', 'V9', 'v9-own-secret')
    // The ACL came with it: the vehicle may ask its hub.
    const info = await v.rpc.request('hub.info', {})
    t.equal(info.hubId, 'feira', 'its request reached the hub through Mosquitto')
    await v.close()
  })

  await t.test('a removed vehicle is refused by Mosquitto; a changed password only logs in as the new one', async (t) => {
    // Connected before the removal: Mosquitto keeps this connection through its reload.
    const lingering = await connectVehicle(m.url, 'feira', 'V9', 'v9-own-secret')
    t.teardown(() => lingering.close())
    t.equal((await lingering.rpc.request('hub.info', {})).hubId, 'feira', 'served while it has an account')
    const r = await cli(['vehicle', 'remove', '--id', 'V9'])
    t.equal(r.code, 0, r.stderr)
    await hubCaughtUp()
    await waitUntil(async () => !(await accepted('V9', 'v9-own-secret')), DEADLINE_MS, 'Mosquitto to refuse V9')
    await t.rejects(login('V9', 'v9-own-secret'), 'V9 is refused')
    // The reload took V9's ACL lines away too, and Mosquitto checks the ACL on every message of a kept
    // connection: its booking never reaches the hub (an absence, so this waits a bounded 2 s).
    const before = await hub.context.store.reservations.counts(Date.now())
    const at = new Date(Date.now() + 3 * 3_600_000).toISOString()
    await t.rejects(lingering.rpc.request('reservation.create', { at, position: { lat: -12.25, lon: -38.95 }, rangeKm: 10 }, { timeoutMs: 2000, retries: 0 }), { code: 'TIMEOUT' }, 'the connection Mosquitto kept cannot book')
    t.same(await hub.context.store.reservations.counts(Date.now()), before, 'nothing was booked')
    t.ok(await accepted('V1', 'v1-pass'), 'the other vehicles still log in')
    const p = await cli(['vehicle', 'passwd', '--id', 'V2', '--password-stdin'], 'v2-new-secret')
    secrets.push('v2-new-secret')
    t.equal(p.code, 0, p.stderr)
    await hubCaughtUp()
    await waitUntil(() => accepted('V2', 'v2-new-secret'), DEADLINE_MS, 'Mosquitto to take the new password')
    await t.rejects(login('V2', 'v2-pass'), 'the old password is refused')
  })

  await t.test("Mosquitto's files hold hashes only: no clear-text password, one $7$ line per login", async (t) => {
    const passwd = readFileSync(files.passwordFile, 'utf8')
    const acl = readFileSync(files.aclFile, 'utf8')
    for (const s of secrets) {
      t.notOk(passwd.includes(s), `passwd holds no ${s}`)
      t.notOk(acl.includes(s), `acl holds no ${s}`)
    }
    const lines = passwd.trim().split('\n')
    t.ok(lines.every((l) => /^[^:\s]+:\$7\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(l)), passwd)
    t.same(lines.map((l) => l.split(':')[0]).sort(), ['FSA-1', 'FSA-2', 'V1', 'V2', 'hub.feira', 'hub.feira/requests'], 'the hub (and its request login), its stations and its vehicles; not the removed V9')
    t.match(acl, /^user V2$/m)
    t.notMatch(acl, /^user V9$/m)
  })
})
