import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { inConfigFile, loadHubConfig } from '../hub/config.js'
import { loadStationConfig } from '../station/config.js'
import { ConfigError, editDistance, nearestName } from '../protocol/index.js'
import { loadProfile } from '../vehicle-sim/settings.js'
import { freePort } from './helpers/net.js'

// The examples of docs/configuration.md, verbatim.
const hubExample = {
  hubId: 'feira',
  name: 'Feira Charging',
  city: 'Feira de Santana',
  position: { lat: -12.2664, lon: -38.9663 },
  currency: 'BRL',
  dataDir: './data/feira',
  mqtt: { listen: { host: '127.0.0.1', port: 1883 } },
  http: { host: '127.0.0.1', port: 8025 },
  stations: [{ stationId: 'FSA-1', position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73, password: 's3cret-1' }],
  vehicles: [{ vehicleId: 'V1', password: 'v1-pass' }],
  federation: {
    peers: [{ hubId: 'salvador', url: 'http://127.0.0.1:8026', token: 'token-we-send-to-salvador', acceptToken: 'token-salvador-sends-us' }],
    links: [{ from: 'feira', to: 'salvador', distanceKm: 108 }],
  },
  rules: { windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30 },
}
const stationExample = {
  stationId: 'FSA-1',
  hubId: 'feira',
  mqtt: { url: 'mqtt://127.0.0.1:1883', password: 's3cret-1' },
  dataDir: './data/FSA-1',
  hardware: { board: { type: 'mock' }, relay: { pin: 7, type: 'NO' }, meter: { type: 'mock', powerKw: 22 } },
  telemetryIntervalMs: 2000,
  offline: { maxChargeMinutes: 30 },
}

const dir = mkdtempSync(join(tmpdir(), 'voltway-config-'))
function write(name: string, data: unknown): string {
  const file = join(dir, name)
  writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data))
  return file
}

t.test('the docs/configuration.md examples load, with paths relative to the file', async (t) => {
  const hub = loadHubConfig(write('hub.json', hubExample))
  t.equal(hub.hubId, 'feira')
  t.equal(hub.dataDir, join(dir, 'data/feira'))
  t.same(hub.rules, { windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30, maxAdvanceDays: 30, maxReservationsPerVehicle: 20 })
  const st = loadStationConfig(write('station.json', stationExample))
  t.equal(st.dataDir, join(dir, 'data/FSA-1'))
  t.equal(st.hardware.meter.type, 'mock')
})

t.test('rules may be left out and take the defaults', async (t) => {
  const { rules: _rules, ...noRules } = hubExample
  const hub = loadHubConfig(write('hub-norules.json', noRules))
  t.same(hub.rules, { windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30, maxAdvanceDays: 30, maxReservationsPerVehicle: 20 })
})

t.test('replicas may be left out (lease 15 s, request claim 30 s) or shortened; a zero is refused', async (t) => {
  t.same(loadHubConfig(write('hub-noreplicas.json', hubExample)).replicas, { leaseTtlSeconds: 15, requestClaimSeconds: 6 })
  t.same(loadHubConfig(write('hub-replicas.json', { ...hubExample, replicas: { leaseTtlSeconds: 2 } })).replicas, { leaseTtlSeconds: 2, requestClaimSeconds: 6 })
  t.throws(() => loadHubConfig(write('hub-replicas0.json', { ...hubExample, replicas: { requestClaimSeconds: 0 } })), { name: 'ConfigError', message: /replicas\.requestClaimSeconds/ })
})

t.test('retention may be left out (station events 90 days) or set in whole days 1-3650; others are refused naming the field', async (t) => {
  t.same(loadHubConfig(write('hub-noretention.json', hubExample)).retention, { stationEventsDays: 90 })
  t.same(loadHubConfig(write('hub-retention.json', { ...hubExample, retention: { stationEventsDays: 30 } })).retention, { stationEventsDays: 30 })
  t.same(loadHubConfig(write('hub-retention-empty.json', { ...hubExample, retention: {} })).retention, { stationEventsDays: 90 })
  for (const days of [0, 3651, 1.5, '30']) {
    const file = write(`hub-retention-${String(days)}.json`, { ...hubExample, retention: { stationEventsDays: days } })
    t.throws(() => loadHubConfig(file), { name: 'ConfigError', message: new RegExp(`^${file}: retention\\.stationEventsDays: `) }, `${JSON.stringify(days)} is refused`)
  }
})

// Each message starts with the file's path; the table holds what follows it.
const badHubs: Array<[string, (c: typeof hubExample) => unknown, string]> = [
  ['a station latitude that is not a number', (c) => ({ ...c, stations: [c.stations[0], { ...c.stations[0], stationId: 'FSA-2', position: { lat: 'south', lon: 1 } }] }), 'stations[1].position.lat: expected a number'],
  ['a missing hubId', ({ hubId: _h, ...rest }) => rest, 'hubId: required, expected a string'],
  ['a bad station id', (c) => ({ ...c, stations: [{ ...c.stations[0], stationId: 'FSA 1' }] }), 'stations[0].stationId: expected an id matching'],
  ['a duplicate station id', (c) => ({ ...c, stations: [c.stations[0], c.stations[0]] }), 'stations[1].stationId: duplicate station id FSA-1'],
  ['a port out of range', (c) => ({ ...c, http: { host: '127.0.0.1', port: 70000 } }), 'http.port: must be <= 65535'],
  ['a bad currency', (c) => ({ ...c, currency: 'real' }), 'currency: expected an ISO 4217 code'],
  ['a peer URL that is not http', (c) => ({ ...c, federation: { ...c.federation, peers: [{ ...c.federation.peers[0], url: 'ftp://x' }] } }), 'federation.peers[0].url'],
]

for (const [what, mutate, message] of badHubs) {
  t.test(`hub.json with ${what} is refused naming the field`, async (t) => {
    const file = write(`bad-${what.replaceAll(' ', '-')}.json`, mutate(hubExample))
    t.throws(() => loadHubConfig(file), ConfigError)
    try {
      loadHubConfig(file)
    } catch (err) {
      t.ok((err as Error).message.startsWith(`${file}: ${message}`), (err as Error).message)
    }
  })
}

t.test('station.json with an unknown meter type is refused naming the field', async (t) => {
  const file = write('station-bad.json', { ...stationExample, hardware: { ...stationExample.hardware, meter: { type: 'magic' } } })
  t.throws(() => loadStationConfig(file), { message: `${file}: hardware.meter.type: expected one of "mock", "modbus-rtu", "s0"` })
})

t.test('a file that is not JSON, or missing, is a one-line config error', async (t) => {
  const broken = write('broken.json', '{"hubId":')
  t.throws(() => loadHubConfig(broken), { message: new RegExp(`^${broken}: not valid JSON`) })
  t.throws(() => loadHubConfig(join(dir, 'nope.json')), { message: `${join(dir, 'nope.json')}: cannot read (ENOENT); give the path of a JSON file this user may read` })
  // A device never ends (/dev/zero was read until memory ran out) and a FIFO blocked until a writer came:
  // both are refused at once, like a directory, without reading.
  t.throws(() => loadHubConfig(dir), { message: `${dir}: cannot read (a directory); give the path of a JSON file this user may read` })
  if (process.platform === 'linux') {
    t.throws(() => loadHubConfig('/dev/zero'), { message: '/dev/zero: cannot read (not a regular file: a device, FIFO or socket); give the path of a JSON file this user may read' })
    const fifo = join(dir, 'fifo.json')
    execFileSync('mkfifo', [fifo])
    t.throws(() => loadHubConfig(fifo), { message: `${fifo}: cannot read (not a regular file: a device, FIFO or socket); give the path of a JSON file this user may read` })
  }
})

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return cliWith(process.env, ...args)
}

function cliWith(env: NodeJS.ProcessEnv, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli.ts', ...args], { encoding: 'utf8', cwd: join(import.meta.dirname, '..'), timeout: 60_000, env })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('a bad config file exits with code 2 and the message, no stack trace', async (t) => {
  const file = write('cli-bad.json', badHubs[0]?.[1](hubExample))
  const r = cli('hub', '--config', file)
  t.equal(r.status, 2)
  t.equal(r.stderr.trim(), `${file}: stations[1].position.lat: expected a number`)
  t.notMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace')
})

t.test('voltway --help lists the subcommands, and each has its own help', async (t) => {
  const r = cli('--help')
  t.equal(r.status, 0)
  for (const c of ['hub', 'station', 'vehicle', 'demo']) t.match(r.stdout, new RegExp(`^\\s+${c}\\b`, 'm'), `lists ${c}`)
  for (const c of [['hub'], ['hub', 'acl'], ['station'], ['station', 'init'], ['station', 'check'], ['station', 'service'], ['vehicle'], ['demo']]) {
    const h = cli(...c, '--help')
    t.equal(h.status, 0, `voltway ${c.join(' ')} --help`)
    t.match(h.stdout, /Usage: voltway/)
  }
})

t.test('federation peers: tokens the server could never accept, duplicate peers and shared acceptTokens are refused', async (t) => {
  const peer = hubExample.federation.peers[0] as (typeof hubExample.federation.peers)[number]
  const withPeers = (peers: unknown[]) => write(`peers-${Math.random().toString(36).slice(2)}.json`, { ...hubExample, federation: { ...hubExample.federation, peers } })
  t.throws(() => loadHubConfig(withPeers([{ ...peer, token: 'has a space' }])), { message: /federation\.peers\[0\]\.token: expected 1 to 512 visible ASCII/ })
  t.throws(() => loadHubConfig(withPeers([peer, { ...peer, acceptToken: 'other' }])), { message: /federation\.peers\[1\]\.hubId: duplicate peer salvador/ })
  t.throws(() => loadHubConfig(withPeers([peer, { ...peer, hubId: 'jequie' }])), { message: /federation\.peers\[1\]\.acceptToken: another peer already uses this acceptToken/ })
})

t.test('a peer with replicas gives "urls" instead of "url": exactly one of the two, differing only in host and port', async (t) => {
  const { url: _url, ...peer } = hubExample.federation.peers[0] as (typeof hubExample.federation.peers)[number]
  const withPeer = (p: unknown) => write(`urls-${Math.random().toString(36).slice(2)}.json`, { ...hubExample, federation: { ...hubExample.federation, peers: [p] } })
  const ok = loadHubConfig(withPeer({ ...peer, urls: ['http://10.0.0.5:8026', 'http://10.0.0.6:8026'] }))
  t.same(ok.federation.peers[0]?.urls, ['http://10.0.0.5:8026', 'http://10.0.0.6:8026'])
  t.equal(ok.federation.peers[0]?.url, undefined)
  const refused: Array<[unknown, RegExp]> = [
    [{ ...peer, url: 'http://10.0.0.5:8026', urls: ['http://10.0.0.6:8026'] }, /federation\.peers\[0\]\.urls: give either "url" \(one address\) or "urls" .*, not both/],
    [peer, /federation\.peers\[0\]\.url: missing: give the peer's federation base URL as "url", or its replicas' as "urls"/],
    [{ ...peer, urls: [] }, /federation\.peers\[0\]\.urls: /],
    [{ ...peer, urls: ['http://10.0.0.5:8026', 'ftp://10.0.0.6'] }, /federation\.peers\[0\]\.urls\[1\]: expected an http:\/\/ or https:\/\/ URL/],
    [{ ...peer, urls: ['http://10.0.0.5:8026', 'http://10.0.0.5:8026/'] }, /federation\.peers\[0\]\.urls\[1\]: duplicate address http:\/\/10\.0\.0\.5:8026/],
    [{ ...peer, urls: ['http://10.0.0.5:8026/voltway', 'https://10.0.0.6:8026/voltway'] }, /federation\.peers\[0\]\.urls\[1\]: every url of a peer needs the scheme and path of urls\[0\]/],
    [{ ...peer, urls: ['http://10.0.0.5:8026/a', 'http://10.0.0.6:8026/b'] }, /federation\.peers\[0\]\.urls\[1\]: every url of a peer needs the scheme and path/],
  ]
  for (const [p, message] of refused) t.throws(() => loadHubConfig(withPeer(p)), { message }, JSON.stringify(p))
})

t.test('an unknown --log-level is a usage error (exit 2) naming the levels', async (t) => {
  const file = write('loglevel.json', hubExample)
  const r = cli('hub', '--config', file, '--log-level', 'verbose')
  t.equal(r.status, 2)
  t.match(r.stderr, /^hub: --log-level: expected one of trace, debug, info/)
})

t.test('an unknown VOLTWAY_LOG_LEVEL is a usage error (exit 2) naming the variable, for the hub, the station agent and the demo', async (t) => {
  const levels = 'expected one of trace, debug, info, warn, error, fatal, silent, got "loud"'
  const env = { ...process.env, VOLTWAY_LOG_LEVEL: 'loud' }
  const hub = cliWith(env, 'hub', '--config', write('loglevel-env.json', hubExample))
  t.equal(hub.status, 2)
  t.equal(hub.stderr.trim(), `hub: VOLTWAY_LOG_LEVEL: ${levels}`, 'the hub names the variable, not a --log-level nobody gave')
  const station = cliWith(env, 'station', '--config', write('loglevel-station.json', stationExample))
  t.equal(station.status, 2)
  t.equal(station.stderr.trim(), `station: VOLTWAY_LOG_LEVEL: ${levels}`, "not pino's 'default level:loud must be included in custom levels', exit 1")
  const demo = cliWith(env, 'demo', '--base-port', '0')
  t.equal(demo.status, 2)
  t.equal(demo.stderr.trim(), `demo: VOLTWAY_LOG_LEVEL: ${levels}`)
})

type Mutation = (c: Record<string, unknown>) => unknown
const misspelled: Array<[string, 'hub' | 'station' | 'profile', Mutation, string]> = [
  ['"vehicle" for "vehicles"', 'hub', ({ vehicles, ...c }) => ({ ...c, vehicle: vehicles }), 'vehicle: unknown field, did you mean "vehicles"?'],
  ['rules.windowMinute', 'hub', (c) => ({ ...c, rules: { windowMinute: 60 } }), 'rules.windowMinute: unknown field, did you mean "windowMinutes"?'],
  ['stations[0].pricePerKwh', 'hub', (c) => ({ ...c, stations: [{ ...(c.stations as object[])[0], pricePerKwh: 1.89 }] }), 'stations[0].pricePerKwh: unknown field, did you mean "priceMinorPerKwh"?'],
  ['mqtt.allowAnonymus inside a union', 'hub', (c) => ({ ...c, mqtt: { listen: { port: 1883 }, allowAnonymus: true } }), 'mqtt.allowAnonymus: unknown field, did you mean "allowAnonymous"?'],
  ['a key inside a station position', 'hub', (c) => ({ ...c, stations: [{ ...(c.stations as object[])[0], position: { lat: 1, lon: 2, lng: 2 } }] }), 'stations[0].position.lng: unknown field, did you mean "lon"?'],
  ['retention.stationEventDays', 'hub', (c) => ({ ...c, retention: { stationEventDays: 30 } }), 'retention.stationEventDays: unknown field, did you mean "stationEventsDays"?'],
  ['"retension" for "retention"', 'hub', (c) => ({ ...c, retension: { stationEventsDays: 30 } }), 'retension: unknown field, did you mean "retention"?'],
  ['federation.peer', 'hub', (c) => ({ ...c, federation: { peer: [] } }), 'federation.peer: unknown field, did you mean "peers"?'],
  ['station telemetryIntervalMS', 'station', (c) => ({ ...c, telemetryIntervalMS: 500 }), 'telemetryIntervalMS: unknown field, did you mean "telemetryIntervalMs"?'],
  ['station hardware.meter.pulsesPerKWh', 'station', (c) => ({ ...c, hardware: { board: { type: 'mock' }, relay: { pin: 7 }, meter: { type: 's0', pin: 2, pulsesPerKwh: 1000, pulsesPerKWh: 1000 } } }), 'hardware.meter.pulsesPerKWh: unknown field, did you mean "pulsesPerKwh"?'],
  ['station offline.maxChargeMinute', 'station', (c) => ({ ...c, offline: { maxChargeMinute: 5 } }), 'offline.maxChargeMinute: unknown field, did you mean "maxChargeMinutes"?'],
  ['profile battery.capacityKWh', 'profile', () => ({ battery: { capacityKWh: 60, soc: 0.5, consumptionKwhPer100Km: 18 } }), 'battery.capacityKWh: unknown field, did you mean "capacityKwh"?'],
  ['a key like no other', 'hub', (c) => ({ ...c, rules: { zzzzzzzzzzzzzz: 1 } }), 'rules.zzzzzzzzzzzzzz: unknown field, known fields: windowMinutes, minLeadMinutes, holdTtlSeconds'],
]

t.test('an unknown config key is refused naming the file, the key with its path and the nearest known key', async (t) => {
  const loaders = { hub: loadHubConfig, station: loadStationConfig, profile: loadProfile }
  const examples = { hub: hubExample, station: stationExample, profile: {} }
  for (const [what, kind, mutate, message] of misspelled) {
    const file = write(`typo-${kind}-${what.replace(/\W+/g, '-')}.json`, mutate(examples[kind]))
    const label = kind === 'profile' ? `profile ${file}` : file
    t.throws(() => loaders[kind](file), { name: 'ConfigError', message: `${label}: ${message}` }, what)
  }
})

t.test('a config error reads as the operator wrote the file: exclusive forms named, every key named, even ""', async (t) => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['mqtt with both listen and url', { ...hubExample, mqtt: { listen: { host: '127.0.0.1', port: 1883 }, url: 'mqtt://127.0.0.1:1883' } }, 'mqtt: give either "listen" or "url", not both'],
    [
      'both forms and a key neither knows',
      { ...hubExample, mqtt: { listen: { host: '127.0.0.1', port: 1883 }, url: 'mqtt://127.0.0.1:1883', bogus: 1 } },
      'mqtt: give either "listen" or "url", not both\n{file}: mqtt.bogus: unknown field, known fields: listen, …',
    ],
    ['an empty key', { ...hubExample, '': 1 }, 'unknown field "", known fields: hubId, …'],
    ['a key with a space', { ...hubExample, rules: { 'window minutes': 1 } }, 'rules: unknown field "window minutes", did you mean "windowMinutes"?'],
  ]
  for (const [what, body, message] of cases) {
    const file = write(`form-${what.replace(/\W+/g, '-')}.json`, body)
    const err = (() => {
      try {
        loadHubConfig(file)
      } catch (e) {
        return e
      }
    })()
    t.type(err, ConfigError, what)
    // Exactly this text; `…` stands for a list of known fields that grows with the schema.
    const [head, tail] = `${file}: ${message.replaceAll('{file}', file)}`.split('…')
    const text = (err as Error).message
    t.ok(tail === undefined ? text === head : text.startsWith(head ?? ''), `${what}: ${text}`)
  }
})

t.test('every line of a start-up config error starts with the config file path', async (t) => {
  const err = inConfigFile(new ConfigError('hub.json: stations: ids used twice: A\nhub.json: dataDir "/x": cannot create the directory (EACCES)\nduplicate MQTT username A'), '/etc/voltway/h.json')
  t.type(err, ConfigError)
  const lines = (err as Error).message.split('\n')
  t.equal(lines.length, 3)
  for (const line of lines) t.ok(line.startsWith('/etc/voltway/h.json: '), line)
  t.equal(lines[1], '/etc/voltway/h.json: dataDir "/x": cannot create the directory (EACCES)')
})

t.test('a flag the operator typed is named as the flag, without the config file in front of it', (t) => {
  const file = write('flag-error.json', hubExample)
  const r = cli('hub', 'vehicle', 'add', '--config', file, '--id', 'bad id!')
  t.equal(r.status, 2)
  t.match(r.stderr, /^(error: )?voltway hub vehicle add: --id: expected an id matching/m)
  t.notMatch(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: voltway`), 'no file label on a flag error')
  const err = inConfigFile(new ConfigError('--password-stdin: expected a password of 1 to 256 characters on stdin\nhub.json: stations: ids used twice: A'), '/etc/voltway/h.json')
  t.same((err as Error).message.split('\n'), ['--password-stdin: expected a password of 1 to 256 characters on stdin', '/etc/voltway/h.json: stations: ids used twice: A'])
  t.end()
})

t.test('a misspelled hub.json key exits 2 before the hub starts', async (t) => {
  const file = write('typo-cli.json', { ...hubExample, rules: { windowMinute: 60 } })
  const r = cli('hub', '--config', file)
  t.equal(r.status, 2)
  t.equal(r.stderr.trim(), `${file}: rules.windowMinute: unknown field, did you mean "windowMinutes"?`)
})

t.test('the nearest known name ignores case and refuses names too far to be a misspelling', async (t) => {
  t.equal(editDistance('kitten', 'sitting'), 3)
  t.equal(editDistance('', 'abc'), 3)
  t.equal(nearestName('telemetryIntervalMS', ['telemetryIntervalMs', 'offline']), 'telemetryIntervalMs')
  t.equal(nearestName('vehicle', ['stations', 'vehicles']), 'vehicles')
  t.equal(nearestName('colour', ['hubId', 'name']), undefined)
  t.equal(nearestName('x', []), undefined)
  t.equal(nearestName('lng', ['lat', 'lon']), 'lon', 'a tie goes to the name sharing more letters')
})

t.test('voltway hub without --config exits 2 with one clear line', async (t) => {
  const r = cli('hub')
  t.equal(r.status, 2)
  t.equal(r.stderr.split('\n')[0], "error: required option '-c, --config <file>' not specified")
})

/** A loopback port another server listens on until `t` ends. */
async function takenPort(t: { teardown(fn: () => void): void }): Promise<number> {
  const taken = createServer()
  taken.listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.teardown(() => taken.close())
  return (taken.address() as { port: number }).port
}

t.test('an HTTP port in use exits 2 naming the file, the address and the cause', async (t) => {
  const port = await takenPort(t)
  const file = write('http-in-use.json', { ...hubExample, dataDir: join(dir, 'http-in-use'), mqtt: { listen: { host: '127.0.0.1', port: await freePort() } }, http: { host: '127.0.0.1', port } })
  const r = cli('hub', '--config', file, '--log-level', 'silent')
  t.equal(r.status, 2)
  t.equal(r.stderr.trim(), `${file}: http: cannot listen on 127.0.0.1:${port} (EADDRINUSE); another program may use the port: stop it or change http.port`)
})

t.test('an HTTP port in use is found before the hub opens its store or logs in to its broker (a copy of a running hub\'s config would take its broker connection over)', async (t) => {
  const port = await takenPort(t)
  // A "broker" that counts who connects: the hub must not come.
  let logins = 0
  const broker = createServer((s) => {
    logins++
    s.destroy()
  })
  broker.listen(0, '127.0.0.1')
  await once(broker, 'listening')
  t.teardown(() => broker.close())
  const brokerUrl = `mqtt://127.0.0.1:${(broker.address() as { port: number }).port}`
  const dataDir = join(dir, 'http-in-use-external')
  const file = write('http-in-use-external.json', { ...hubExample, dataDir, mqtt: { url: brokerUrl, username: 'hub.feira', password: 'hub-pass' }, http: { host: '127.0.0.1', port } })
  const r = cli('hub', '--config', file, '--log-level', 'silent')
  t.equal(r.status, 2)
  t.equal(r.stderr.trim(), `${file}: http: cannot listen on 127.0.0.1:${port} (EADDRINUSE); another program may use the port: stop it or change http.port`)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(logins, 0, 'no connection to the broker')
  t.notOk(existsSync(dataDir), 'no store opened (its dataDir was never made)')
})

t.test('an HTTP port in use given with --http-port names the flag, not http.port', async (t) => {
  const port = await takenPort(t)
  const file = write('http-flag-in-use.json', { ...hubExample, dataDir: join(dir, 'http-flag-in-use'), mqtt: { listen: { host: '127.0.0.1', port: await freePort() } }, http: { host: '127.0.0.1', port: 0 } })
  const r = cli('hub', '--config', file, '--http-port', String(port), '--log-level', 'silent')
  t.equal(r.status, 2)
  t.equal(r.stderr.trim(), `${file}: http: cannot listen on 127.0.0.1:${port} (EADDRINUSE); another program may use the port: stop it or give another --http-port (each replica on one machine needs its own)`)
})

t.test('an MQTT port in use exits 2 with the hint of its cause, like the HTTP one', async (t) => {
  const port = await takenPort(t)
  const file = write('mqtt-in-use.json', { ...hubExample, dataDir: join(dir, 'mqtt-in-use'), mqtt: { listen: { host: '127.0.0.1', port } }, http: { host: '127.0.0.1', port: 0 } })
  const r = cli('hub', '--config', file, '--log-level', 'silent')
  t.equal(r.status, 2)
  t.equal(r.stderr.trim(), `${file}: mqtt.listen: cannot listen on 127.0.0.1:${port} (EADDRINUSE); another program may use the port: stop it or change mqtt.listen.port`)
})

t.test('a host that is not an address of this machine is named as the cause, not a port in use', async (t) => {
  const http = write('http-host-foreign.json', { ...hubExample, dataDir: join(dir, 'http-host-foreign'), mqtt: { listen: { host: '127.0.0.1', port: 0 } }, http: { host: '192.0.2.1', port: 0 } })
  const r1 = cli('hub', '--config', http, '--log-level', 'silent')
  t.equal(r1.status, 2)
  t.equal(r1.stderr.trim(), `${http}: http: cannot listen on 192.0.2.1:0 (EADDRNOTAVAIL); http.host is not an address of this machine: use 127.0.0.1, 0.0.0.0 (every interface) or one of its own addresses`)
  const mqtt = write('mqtt-host-foreign.json', { ...hubExample, dataDir: join(dir, 'mqtt-host-foreign'), mqtt: { listen: { host: '192.0.2.1', port: 0 } }, http: { host: '127.0.0.1', port: 0 } })
  const r2 = cli('hub', '--config', mqtt, '--log-level', 'silent')
  t.equal(r2.status, 2)
  t.equal(r2.stderr.trim(), `${mqtt}: mqtt.listen: cannot listen on 192.0.2.1:0 (EADDRNOTAVAIL); mqtt.listen.host is not an address of this machine: use 127.0.0.1, 0.0.0.0 (every interface) or one of its own addresses`)
})

t.test('rules whose earliest bookable time is not before the latest are refused, both keys named', async (t) => {
  const file = write('hub-rules.json', { ...hubExample, rules: { maxAdvanceDays: 1, minLeadMinutes: 10080 } })
  t.throws(() => loadHubConfig(file), { message: /rules\.minLeadMinutes: 10080 minutes is not less than rules\.maxAdvanceDays \(1 days = 1440 minutes\): no time could be booked/ })
  t.equal(loadHubConfig(write('hub-rules-ok.json', { ...hubExample, rules: { maxAdvanceDays: 1, minLeadMinutes: 1439 } })).rules.minLeadMinutes, 1439, 'one minute less can book')
})

t.test('a whole-number field given a fraction says "expected an integer"', async (t) => {
  t.throws(() => loadHubConfig(write('hub-int.json', { ...hubExample, rules: { windowMinutes: 1.5 } })), { message: /rules\.windowMinutes: expected an integer$/m })
})
