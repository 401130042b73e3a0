/**
 * The files for an external Mosquitto: password hashes identical to
 * mosquitto_passwd's, an ACL that is exactly the permission table, and the
 * `voltway hub acl` command. (broker-acl-mosquitto.test.ts runs a real
 * Mosquitto on these files.)
 */
import t from 'tap'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { Command } from 'commander'
import { connectAsync } from 'mqtt'
import { ConfigError } from '../protocol/index.js'
import { mosquittoAclFile, mosquittoConf, mosquittoPasswordFile, mosquittoPasswordHash, operatorConfLines } from '../hub/broker/mosquitto-acl.js'
import { runAclCommand } from '../hub/commands/acl.js'
import { registerHubCommands } from '../hub/commands/register.js'
import { inConfigFile } from '../hub/config.js'
import { mosquittoBinary, runMosquittoConf } from './helpers/mosquitto.js'
import { freePort, waitUntil } from './helpers/net.js'

const input = {
  hubId: 'feira',
  hub: { username: 'hub.feira', password: 'hub-secret' },
  stations: [{ stationId: 'FSA-1', password: 's3cret-1' }],
  vehicles: [{ vehicleId: 'V1', password: 'v1-pass' }],
}

t.test("the password hash is mosquitto_passwd's $7$ PBKDF2-SHA512 format", async (t) => {
  // A line written by `mosquitto_passwd -b` (Mosquitto 2.0.11) for password "secret".
  const line = '$7$101$/pJuLckR6H4M4+z4$fd3vLiauM3kU66pgW3kfTGQ7JGtv2xUsx/F5Ge8/vhct/avUvVAj2a+ybwCZQMUX32ATpOvWv9Ijldm3AvZXjg=='
  t.equal(mosquittoPasswordHash('secret', { salt: Buffer.from('/pJuLckR6H4M4+z4', 'base64') }), line)
  t.match(mosquittoPasswordHash('x'), /^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/, 'fresh 12-byte salt, 64-byte hash')
  t.not(mosquittoPasswordHash('x'), mosquittoPasswordHash('x'), 'salted')
})

const hasPasswd = !spawnSync('mosquitto_passwd', ['--help'], { stdio: 'ignore' }).error
t.test('our hash equals what the installed mosquitto_passwd writes for the same salt', { skip: hasPasswd ? false : 'mosquitto_passwd is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-passwd-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'pw')
  const password = 'pässwörd with spaces & ünicode'
  const r = spawnSync('mosquitto_passwd', ['-c', '-b', file, 'alice', password])
  t.equal(r.status, 0)
  const [user, hash] = readFileSync(file, 'utf8').trim().split(':') as [string, string]
  t.equal(user, 'alice')
  const salt = Buffer.from(hash.split('$')[3] ?? '', 'base64')
  t.equal(mosquittoPasswordHash(password, { salt }), hash)
})

t.test('the password file has one line per hub login (and its request login), station and vehicle', async (t) => {
  const lines = mosquittoPasswordFile(input).trim().split('\n')
  t.same(
    lines.map((l) => l.split(':')[0]),
    ['hub.feira', 'hub.feira/requests', 'FSA-1', 'V1'],
  )
  for (const l of lines) t.match(l, /^[^:]+:\$7\$101\$/)
})

t.test('the ACL is exactly the permission table, one block per user, no patterns', async (t) => {
  const acl = mosquittoAclFile(input)
  t.notMatch(acl, /^pattern/m, 'no pattern rules (they would apply to every user)')
  t.notMatch(acl.split('\nuser ')[0] ?? '', /^topic/m, 'no rules before the first user (those would apply to anonymous clients)')
  const blocks = acl.split('\nuser ').slice(1).map((b) => b.trim().split('\n'))
  t.same(blocks, [
    ['hub.feira', 'topic readwrite voltway/v1/#', '', '# hub'],
    // Its connection for vehicle requests (identities.ts requestUsername), with the same rights.
    ['hub.feira/requests', 'topic readwrite voltway/v1/#', '', '# station'],
    [
      'FSA-1',
      'topic write voltway/v1/stations/FSA-1/state',
      'topic write voltway/v1/stations/FSA-1/telemetry',
      'topic write voltway/v1/stations/FSA-1/events',
      'topic write voltway/v1/stations/FSA-1/cmd/res',
      'topic write voltway/v1/stations/FSA-1/auth',
      'topic read voltway/v1/stations/FSA-1/cmd',
      'topic read voltway/v1/stations/FSA-1/ack',
      'topic read voltway/v1/hubs/+/state',
      'topic read voltway/v1/stations/FSA-1/auth/res',
      '',
      '# vehicle',
    ],
    ['V1', 'topic write voltway/v1/hubs/+/req/V1', 'topic read voltway/v1/vehicles/V1/#', 'topic read voltway/v1/stations/+/state', 'topic read voltway/v1/hubs/+/state'],
  ])
})

t.test('a station and a vehicle with the same id are refused (they would share one Mosquitto user)', async (t) => {
  t.throws(() => mosquittoAclFile({ ...input, vehicles: [{ vehicleId: 'FSA-1', password: 'x' }] }), ConfigError)
  t.throws(() => mosquittoPasswordFile({ ...input, hub: { username: 'V1', password: 'x' } }), ConfigError, "the hub's username cannot be a vehicle id")
})

t.test('a hub username Mosquitto cannot carry is refused', async (t) => {
  for (const username of ['hub feira', 'hub:feira', 'hub+', 'hub#', 'hub\nuser V1', '']) {
    t.throws(() => mosquittoAclFile({ ...input, hub: { username, password: 'x' } }), ConfigError, JSON.stringify(username))
  }
})

t.test("a hub username must leave room for the hub's request login (and a replica's): the refusal gives the length that fits", async (t) => {
  const u = (n: number): string => 'u'.repeat(n)
  t.doesNotThrow(() => mosquittoPasswordFile({ ...input, hub: { username: u(247), password: 'x' } }), '247 + "/requests" is 256: fits')
  for (const n of [248, 256, 257, 5000]) {
    t.throws(
      () => mosquittoPasswordFile({ ...input, hub: { username: u(n), password: 'x' } }),
      { message: new RegExp(`^hub\\.json: mqtt\\.username: "u{24}\\.\\.\\.u{24}" \\(${n} characters\\) leaves no room for the hub's login "u{24}\\.\\.\\.u{15}/requests" \\(${n + 9} characters\\) \\(over the 256 characters voltway hub acl allows a Mosquitto username\\); use at most 247 characters$`) },
      `${n} characters`,
    )
  }
  // Replicas: hub.json's username, then `.NAME`, then `/requests`: the longest replica name sets the room.
  const replicas = (base: string) => ['r1', 'replica-two'].map((r) => ({ username: `${base}.${r}`, password: 'x' }))
  t.doesNotThrow(() => mosquittoPasswordFile({ ...input, hub: { username: 'x', password: 'x' }, hubs: replicas(u(235)), configuredUsername: u(235) }))
  t.throws(() => mosquittoPasswordFile({ ...input, hub: { username: 'x', password: 'x' }, hubs: replicas(u(236)), configuredUsername: u(236) }), { message: /\.replica-two\/requests" \(257 characters\).*use at most 235 characters$/ })
  // Past the short replica's room too: the advice is the longest login's, so one fix is enough.
  t.throws(() => mosquittoPasswordFile({ ...input, hub: { username: 'x', password: 'x' }, hubs: replicas(u(245)), configuredUsername: u(245) }), { message: /\.replica-two\/requests" \(266 characters\).*use at most 235 characters$/ })
  t.throws(() => mosquittoPasswordFile({ ...input, hub: { username: u(250) + ':', password: 'x' } }), { message: /cannot be a Mosquitto username \(use printable ASCII/ }, 'too long and a forbidden character: the character first, which no length fixes')
  t.throws(() => mosquittoPasswordFile({ ...input, hub: { username: u(10) + ':', password: 'x' } }), { message: /cannot be a Mosquitto username \(use printable ASCII/ }, 'a forbidden character still gets its own hint')
})

t.test('the conf snippet requires logins, uses our files and ties client ids to usernames', async (t) => {
  const conf = mosquittoConf({ hubId: 'feira', port: 1884, bindAddress: '0.0.0.0', passwordFile: '/etc/v/passwd', aclFile: '/etc/v/acl' })
  for (const line of ['listener 1884 0.0.0.0', 'allow_anonymous false', 'password_file /etc/v/passwd', 'acl_file /etc/v/acl', 'use_username_as_clientid true']) {
    t.match(conf, new RegExp(`^${line.replace(/[.+]/g, '\\$&')}$`, 'm'), line)
  }
})

function hubJson(dir: string, mqtt: unknown, vehicles = [{ vehicleId: 'V1', password: 'v1-pass' }]): string {
  const file = join(dir, 'hub.json')
  writeFileSync(
    file,
    JSON.stringify({
      hubId: 'feira',
      name: 'Feira',
      city: 'Feira de Santana',
      position: { lat: -12.2664, lon: -38.9663 },
      currency: 'BRL',
      dataDir: './data',
      mqtt,
      http: { host: '127.0.0.1', port: 8025 },
      stations: [{ stationId: 'FSA-1', position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73, password: 's3cret-1' }],
      vehicles,
    }),
  )
  return file
}

const mode = (f: string): number => statSync(f).mode & 0o777

t.test('voltway hub acl writes passwd, acl and mosquitto.conf with mode 0600 and says how to use them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'out')
  const config = hubJson(dir, { url: 'mqtt://broker.example:1884', username: 'feira-hub', password: 'hub-pass' })
  writeFileSync(join(dir, 'stale'), '') // unrelated files are left alone
  const r = runAclCommand({ config, out })
  t.same(r.files.map((f) => f.slice(out.length + 1)), ['passwd', 'acl', 'mosquitto.conf'])
  for (const f of r.files) t.equal(mode(f), 0o600, `${f} is 0600`)
  t.equal(r.hubUsername, 'feira-hub')
  t.notOk(r.generatedHubPassword)
  t.match(readFileSync(join(out, 'passwd'), 'utf8'), /^feira-hub:\$7\$/m)
  t.match(readFileSync(join(out, 'acl'), 'utf8'), /^user feira-hub\ntopic readwrite voltway\/v1\/#$/m)
  t.match(readFileSync(join(out, 'mosquitto.conf'), 'utf8'), /^listener 1884 broker\.example$/m)
  t.match(r.text, /mosquitto -c /)
  t.notMatch(r.text, /hub-pass/, 'the password is not printed')
})

t.test('voltway hub acl in listen mode makes a hub login and writes it to hub-mqtt.json; old files become 0600', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'out')
  const config = hubJson(dir, { listen: { host: '127.0.0.1', port: 1883 } })
  runAclCommand({ config, out })
  writeFileSync(join(out, 'passwd'), 'old', { mode: 0o644 })
  const r = runAclCommand({ config, out })
  t.ok(r.generatedHubPassword)
  t.equal(mode(join(out, 'passwd')), 0o600, 'a replaced file is 0600 too')
  const login = JSON.parse(readFileSync(join(out, 'hub-mqtt.json'), 'utf8')) as { mqtt: { url: string; username: string; password: string } }
  t.equal(mode(join(out, 'hub-mqtt.json')), 0o600)
  t.same({ url: login.mqtt.url, username: login.mqtt.username }, { url: 'mqtt://127.0.0.1:1883', username: 'hub.feira' })
  t.ok(login.mqtt.password.length >= 32)
  t.match(r.text, /hub-mqtt\.json/)
})

t.test('voltway hub acl refuses a station and a vehicle with the same id and writes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'out')
  const config = hubJson(dir, { url: 'mqtt://b:1883', username: 'h', password: 'p' }, [{ vehicleId: 'FSA-1', password: 'x' }])
  t.throws(() => runAclCommand({ config, out }), { name: 'ConfigError', message: /FSA-1/ })
  t.throws(() => statSync(out), 'no output directory')
})

t.test('voltway hub acl with an --out it cannot create is a usage error naming --out (exit 2), not a bare ENOTDIR', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = hubJson(dir, { url: 'mqtt://b:1883', username: 'h', password: 'p' })
  const out = join(config, 'out')
  t.throws(() => runAclCommand({ config, out }), { name: 'ConfigError', message: `hub acl: --out ${out}: cannot create the directory (ENOTDIR); give a directory this user may create or write (e.g. /etc/mosquitto/voltway)` })
  // Under /proc, Node's recursive mkdir retried forever: the command hung instead of answering.
  if (process.platform === 'linux') {
    t.throws(() => runAclCommand({ config, out: '/proc/voltway-typo' }), { name: 'ConfigError', message: 'hub acl: --out /proc/voltway-typo: cannot create the directory (ENOENT); give a directory this user may create or write (e.g. /etc/mosquitto/voltway)' })
    // There, but taking no file: the first file failed with a bare ENOENT.
    t.throws(() => runAclCommand({ config, out: '/proc/self' }), { name: 'ConfigError', message: 'hub acl: --out /proc/self: cannot write in the directory (ENOENT); give a directory this user may create or write (e.g. /etc/mosquitto/voltway)' })
  }
})

t.test('the CLI wiring: `voltway hub acl --config F --out D` prints what it wrote', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = hubJson(dir, { url: 'mqtt://b:1883', username: 'h', password: 'p' })
  const program = new Command().exitOverride()
  registerHubCommands(program)
  let printed = ''
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array) => {
    printed += String(chunk)
    return true
  }) as typeof process.stdout.write
  try {
    await program.parseAsync(['hub', 'acl', '--config', config, '--out', join(dir, 'out')], { from: 'user' })
  } finally {
    process.stdout.write = write
  }
  t.match(printed, /Wrote Mosquitto files for hub feira/)
  t.equal(mode(join(dir, 'out', 'acl')), 0o600)
})

t.test('voltway hub acl makes Mosquitto listen only on the host of mqtt.url', { skip: mosquittoBinary() ? false : 'mosquitto is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  const out = join(dir, 'out')
  const port = await freePort()
  const config = hubJson(dir, { url: `mqtt://127.0.0.1:${port}`, username: 'feira-hub', password: 'hub-pass' })
  runAclCommand({ config, out })
  const confFile = join(out, 'mosquitto.conf')
  t.match(readFileSync(confFile, 'utf8'), new RegExp(`^listener ${port} 127\\.0\\.0\\.1$`, 'm'))
  // As root, Mosquitto would switch to user `mosquitto`, which cannot read the 0600 files.
  if (process.getuid?.() === 0) appendFileSync(confFile, 'user root\n')
  const m = await runMosquittoConf(confFile, port, dir)
  t.teardown(() => m.close())
  const hub = await connectAsync(m.url, { username: 'feira-hub', password: 'hub-pass', reconnectPeriod: 0 })
  await hub.endAsync()
  t.pass('the hub logs in on 127.0.0.1')
  // 127.0.0.2 is loopback too: a wildcard listener would accept it.
  const other = await new Promise<string>((resolve) => {
    const s = netConnect(port, '127.0.0.2')
    s.once('connect', () => {
      s.destroy()
      resolve('connected')
    })
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
  t.equal(other, 'ECONNREFUSED', 'nothing listens on another address')
})

t.test('voltway hub acl writes only plain MQTT listeners: ws, wss, mqtts and tcp URLs are refused naming mqtt.url, and nothing is written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cases: Array<[string, RegExp]> = [
    ['mqtts://broker.example:8883', /needs a TLS listener \(certfile, keyfile\)/],
    ['ws://broker.example:8080', /needs a websockets listener/],
    ['wss://broker.example', /needs a websockets listener with TLS/],
    ['tcp://broker.example:1883', /is plain MQTT: write it as mqtt:\/\/broker\.example:1883/],
  ]
  for (const [url, why] of cases) {
    const out = join(dir, `out-${url.split(':')[0] ?? 'x'}`)
    const config = hubJson(dir, { url, username: 'h', password: 'p' })
    const err = (() => {
      try {
        runAclCommand({ config, out })
      } catch (e) {
        return inConfigFile(e, config)
      }
    })()
    t.type(err, ConfigError, url)
    const message = (err as Error).message
    t.ok(message.startsWith(`${config}: mqtt.url: `), `names the file and mqtt.url: ${message}`)
    t.match(message, why, url)
    if (!url.startsWith('tcp')) t.match(message, /add those listener lines by hand, in a NAME\.conf file in --out's conf\.d\/ \(docs\/operator-guide\.md/, `${url}: the hint`)
    t.throws(() => statSync(out), `${url}: nothing written`)
  }
})

t.test('an mqtt:// URL without a port listens on 1883', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'out')
  runAclCommand({ config: hubJson(dir, { url: 'mqtt://broker.example', username: 'h', password: 'p' }), out })
  t.match(readFileSync(join(out, 'mosquitto.conf'), 'utf8'), /^listener 1883 broker\.example$/m)
})

/** Whether `username` logs in on 127.0.0.1:port. */
async function logsIn(port: number, username: string, password: string): Promise<boolean> {
  try {
    await (await connectAsync(`mqtt://127.0.0.1:${port}`, { username, password, reconnectPeriod: 0, connectTimeout: 5000 })).endAsync()
    return true
  } catch {
    return false
  }
}

/** A temp dir whose out/ holds what `hub acl` wrote for a hub on mqtt://127.0.0.1:<port>; `second` is another free port. */
async function generated(): Promise<{ dir: string; out: string; port: number; second: number; config: string; confFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  const out = join(dir, 'out')
  const [port, second] = [await freePort(), await freePort()]
  const config = hubJson(dir, { url: `mqtt://127.0.0.1:${port}`, username: 'feira-hub', password: 'hub-pass' })
  runAclCommand({ config, out })
  return { dir, out, port, second, config, confFile: join(out, 'mosquitto.conf') }
}

t.test("the operator's own lines live in conf.d/: a re-run keeps them, and Mosquitto reads them after the generated ones", { skip: mosquittoBinary() ? false : 'mosquitto is not installed' }, async (t) => {
  const { dir, out, port, second: tlsLike, config, confFile } = await generated()
  t.match(readFileSync(confFile, 'utf8'), new RegExp(`\\ninclude_dir ${join(out, 'conf.d').replace(/[.]/g, '\\.')}\\n$`), 'include_dir is the last line')
  t.equal(mode(join(out, 'conf.d')), 0o700, 'conf.d/ is made')
  // The operator's file: a second listener (where a TLS one would go) and, as root, the user Mosquitto runs as.
  const own = join(out, 'conf.d', 'local.conf')
  const ownText = [`listener ${tlsLike} 127.0.0.1`, ...(process.getuid?.() === 0 ? ['user root'] : []), ''].join('\n')
  writeFileSync(own, ownText)
  const r = runAclCommand({ config, out })
  t.equal(readFileSync(own, 'utf8'), ownText, 'conf.d/local.conf untouched by the re-run')
  t.notOk(r.files.some((f) => f.startsWith(join(out, 'conf.d'))), 'nothing written in conf.d/')
  t.match(r.text, /conf\.d\/NAME\.conf/, 'the output says where own lines go')
  const m = await runMosquittoConf(confFile, port, dir)
  t.teardown(() => m.close())
  t.ok(await logsIn(port, 'feira-hub', 'hub-pass'), 'the generated listener')
  t.ok(await logsIn(tlsLike, 'V1', 'v1-pass'), "the operator's listener from conf.d/, with the generated logins")
})

t.test('a mosquitto.conf with hand-added lines (older `hub acl`) is not replaced: exit 2 naming them, nothing written; moved to conf.d/ they work', { skip: mosquittoBinary() ? false : 'mosquitto is not installed' }, async (t) => {
  const { dir, out, port, second, config, confFile } = await generated()
  // What an older `hub acl` wrote (no include_dir), with lines added by hand as the operator guide said.
  const old = [
    '# Voltway: Mosquitto 2 settings for hub feira, generated by `voltway hub acl`.',
    `listener ${port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${join(out, 'passwd')}`,
    `acl_file ${join(out, 'acl')}`,
    'use_username_as_clientid true',
    'set_tcp_nodelay true',
  ]
  const hand = [`listener ${second} 127.0.0.1`, ...(process.getuid?.() === 0 ? ['user root'] : [])]
  writeFileSync(confFile, [...old, ...hand, ''].join('\n'))
  const before = { conf: readFileSync(confFile, 'utf8'), passwd: readFileSync(join(out, 'passwd'), 'utf8') }
  const err = (() => {
    try {
      runAclCommand({ config, out })
    } catch (e) {
      return e
    }
  })()
  t.type(err, ConfigError, 'refused as a usage error (exit 2)')
  t.equal((err as ConfigError).code, 'CONFIG_INVALID')
  t.ok((err as Error).message.startsWith(`voltway hub acl: ${confFile} has 2 lines`.replace('2 lines', hand.length === 1 ? 'a line' : '2 lines')), 'names mosquitto.conf, not hub.json')
  t.match((err as Error).message, `"listener ${second} 127.0.0.1"`, 'names the hand-added line')
  t.match((err as Error).message, `Move ${hand.length === 1 ? 'it' : 'them'} into ${join(out, 'conf.d', 'local.conf')}`, 'the hint')
  t.equal(readFileSync(confFile, 'utf8'), before.conf, 'mosquitto.conf unchanged')
  t.equal(readFileSync(join(out, 'passwd'), 'utf8'), before.passwd, 'passwd not rewritten either')

  // The operator does what it says; the re-run goes through and the line is still in effect.
  writeFileSync(join(out, 'conf.d', 'local.conf'), hand.join('\n') + '\n')
  writeFileSync(confFile, [...old, ''].join('\n'))
  runAclCommand({ config, out })
  const m = await runMosquittoConf(confFile, port, dir)
  t.teardown(() => m.close())
  t.ok(await logsIn(second, 'V1', 'v1-pass'), 'the moved listener works')
})

t.test('which lines of an old mosquitto.conf are the operator\'s', async (t) => {
  const generated = mosquittoConf({ hubId: 'feira', port: 1884, bindAddress: '10.0.0.1', passwordFile: '/n/passwd', aclFile: '/n/acl', includeDir: '/n/conf.d' })
  const older = ['# a comment', '', 'listener 1883 127.0.0.1', 'allow_anonymous false', 'password_file /o/passwd', 'acl_file /o/acl', 'use_username_as_clientid true'].join('\n')
  t.same(operatorConfLines(older, generated), [], 'another port, host or directory is a regeneration, not a hand edit')
  t.same(operatorConfLines(generated, generated), [])
  t.same(
    operatorConfLines(`${older}\nlistener 8883\ncertfile /c.pem\nallow_anonymous true\npid_file /run/m.pid\nuser voltway\n`, generated),
    ['listener 8883', 'certfile /c.pem', 'allow_anonymous true', 'pid_file /run/m.pid', 'user voltway'],
    'a second listener, a changed fixed line, and lines the generator never writes',
  )
  const withPid = mosquittoConf({ hubId: 'feira', port: 1884, passwordFile: '/n/passwd', aclFile: '/n/acl', pidFile: '/run/m.pid' })
  t.same(operatorConfLines(`${older}\npid_file /run/m.pid\n`, withPid), [], 'a hand-added pid_file equal to the generated one is not lost')
})

t.test('with hub.json mqtt.mosquitto, mosquitto.conf sets its pid_file, so the hub can reload Mosquitto', { skip: mosquittoBinary() ? false : 'mosquitto is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-acl-'))
  const out = join(dir, 'out')
  const port = await freePort()
  const pidFile = join(dir, 'mosquitto.pid')
  const mosquitto = { passwordFile: join(out, 'passwd'), aclFile: join(out, 'acl'), pidFile }
  const config = hubJson(dir, { url: `mqtt://127.0.0.1:${port}`, username: 'feira-hub', password: 'hub-pass', mosquitto })
  runAclCommand({ config, out })
  const confFile = join(out, 'mosquitto.conf')
  t.match(readFileSync(confFile, 'utf8'), `\npid_file ${pidFile}\n`)
  // An older file where the operator set another pid file: refused, with the reason not to move that line.
  const current = readFileSync(confFile, 'utf8')
  writeFileSync(confFile, current.replace(`pid_file ${pidFile}`, 'pid_file /run/other.pid'))
  t.throws(() => runAclCommand({ config, out }), { name: 'ConfigError', message: /Delete its pid_file line instead of moving it: the new file sets pid_file .*mosquitto\.pid \(hub\.json mqtt\.mosquitto\.pidFile\), and Mosquitto refuses to start with two/ })
  writeFileSync(confFile, current)
  if (process.getuid?.() === 0) writeFileSync(join(out, 'conf.d', 'root.conf'), 'user root\n')
  const m = await runMosquittoConf(confFile, port, dir)
  t.teardown(() => m.close())
  await waitUntil(() => (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(m.proc.pid)) || null, 10_000, "Mosquitto's pid in the pid file")
  t.pass('Mosquitto writes its pid where the hub looks')
})
