/**
 * TLS from the clients' side and at start (docs/configuration.md "TLS"): a
 * station agent over mqtts with `mqtt.ca`, the vehicle CLI with `--ca`, and
 * TLS files that are missing, unreadable, not PEM or mismatched stopping a
 * hub (exit 2) or a station before anything starts, naming field and file.
 */
import { spawn } from 'node:child_process'
import { copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError } from '../protocol/index.js'
import { loadStationConfig } from '../station/config.js'
import { agentConfig, startAgentFor } from './helpers/charging-e2e.js'
import { testCerts } from './helpers/certs.js'
import { hubConfig, startTestHub, tempDir } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'
import { cleanEnv, jsonOf, runInProcess } from './helpers/vehicle-cli.js'

const certs = testCerts()
const hub = await startTestHub(hubConfig({ mqtt: { listen: { host: '127.0.0.1', port: 0, tls: { cert: certs.serverCert, key: certs.serverKey, requestCert: false } }, allowAnonymous: false } }))
t.teardown(() => hub.close())

t.test('a station agent with mqtt.ca comes online over mqtts', async (t) => {
  const station = hub.config.stations[0]!
  const base = agentConfig(hub, station)
  const agent = await startAgentFor({ ...base, mqtt: { ...base.mqtt, ca: certs.ca } })
  t.teardown(() => agent.stop())
  await waitUntil(() => hub.context.stations.get(station.stationId)?.live.online, 10_000, 'the station online at the hub')
  t.pass('online')
})

t.test('station.json: mqtt.ca is relative to the file, and a CA that is not a certificate stops the station naming the field', async (t) => {
  const dir = tempDir('voltway-station-tls-')
  copyFileSync(certs.ca, join(dir, 'ca.pem'))
  writeFileSync(join(dir, 'not-a-cert.pem'), 'hello\n')
  const raw = (ca: string, url = 'mqtts://127.0.0.1:8883'): string =>
    JSON.stringify({ stationId: 'S1', hubId: 'H', mqtt: { url, password: 'pw', ca }, dataDir: 'data', hardware: { board: { type: 'mock' }, relay: { pin: 7 }, meter: { type: 'mock', powerKw: 22 } } })
  const file = join(dir, 'station.json')
  writeFileSync(file, raw('ca.pem'))
  t.equal(loadStationConfig(file).mqtt.ca, join(dir, 'ca.pem'), 'resolved against the directory of station.json')
  writeFileSync(file, raw('not-a-cert.pem'))
  t.throws(() => loadStationConfig(file), new ConfigError(`${file}: mqtt.ca: ${join(dir, 'not-a-cert.pem')} is not a PEM certificate; see docs/operator-guide.md "TLS" to make one with openssl`))
  writeFileSync(file, raw('ca.pem', 'mqtt://127.0.0.1:1883'))
  t.throws(() => loadStationConfig(file), /mqtt\.ca: a "ca" needs an mqtts:\/\//, 'a ca with a plain mqtt:// url is a mistake, said so')
})

const env = cleanEnv({ VOLTWAY_HUB: hub.mqttUrl, VOLTWAY_HUB_ID: 'feira', VOLTWAY_VEHICLE: 'V1', VOLTWAY_PASSWORD: 'v1-pass' })

t.test('voltway vehicle --ca FILE talks to an mqtts:// hub; without the CA it cannot connect', async (t) => {
  const ok = await runInProcess(['info', '--json', '--ca', certs.ca], env)
  t.equal(ok.code, 0, ok.stderr)
  t.match(jsonOf(ok), { hubId: 'feira' })
  const without = await runInProcess(['info', '--json'], env)
  t.equal(without.code, 1, 'fails without --ca')
  t.match(without.stderr, /BROKER_UNREACHABLE.*TLS: .*pass --ca FILE/, 'saying that TLS failed and what to pass')
  const missing = await runInProcess(['info', '--ca', join(certs.dir, 'nope.pem')], env)
  t.equal(missing.code, 2, 'a --ca that cannot be read is a usage error')
  t.match(missing.stderr, /--ca: cannot read .*nope\.pem \(ENOENT\)/)
})

/** `voltway hub --config FILE` run to its exit (or its ready line, then stopped). */
async function runHub(file: string): Promise<{ code: number | null; out: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', 'hub', '--config', file], { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VOLTWAY_LOG_LEVEL: 'warn' } })
  let out = ''
  const onData = (d: Buffer): void => {
    out += d.toString()
    if (out.includes('"msg":"ready"')) proc.kill('SIGTERM')
  }
  proc.stdout.on('data', onData)
  proc.stderr.on('data', onData)
  const code = await new Promise<number | null>((r) => proc.once('close', (c) => r(c)))
  return { code, out }
}

t.test('hub.json: TLS paths are relative to the file; a missing, non-PEM or mismatched file exits 2 naming the field and the file', async (t) => {
  const dir = tempDir('voltway-hub-tls-')
  for (const f of ['ca.crt', 'server.crt', 'server.key', 'client.key']) copyFileSync(join(certs.dir, f), join(dir, f))
  const file = join(dir, 'hub.json')
  const write = (over: Record<string, unknown>): void => {
    const cfg = hubConfig()
    writeFileSync(file, JSON.stringify({ ...cfg, dataDir: 'data', mqtt: { listen: { host: '127.0.0.1', port: 0 } }, http: { host: '127.0.0.1', port: 0 }, ...over }))
  }
  write({ mqtt: { listen: { host: '127.0.0.1', port: 0, tls: { cert: 'server.crt', key: 'server.key' } } }, http: { host: '127.0.0.1', port: 0, tls: { cert: 'server.crt', key: 'server.key' } } })
  const good = await runHub(file)
  t.match(good.out, /"mqtt":"mqtts:\/\/127\.0\.0\.1:\d+","http":"https:\/\/127\.0\.0\.1:\d+"/, 'relative paths found; mqtts and https')

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a missing cert', { mqtt: { listen: { host: '127.0.0.1', port: 0, tls: { cert: 'gone.crt', key: 'server.key' } } } }, /hub\.json: mqtt\.listen\.tls\.cert: cannot read .*gone\.crt \(ENOENT\); check the path/],
    ['a key of another certificate', { http: { host: '127.0.0.1', port: 0, tls: { cert: 'server.crt', key: 'client.key' } } }, /hub\.json: http\.tls\.key: .*client\.key is not the key of the certificate .*server\.crt/],
    ['a peer ca that is not PEM', { federation: { peers: [{ hubId: 'salvador', url: 'https://127.0.0.1:1', token: 'aaaaaaaaaaaaaaaa', acceptToken: 'bbbbbbbbbbbbbbbb', ca: 'server.key' }], links: [] } }, /hub\.json: federation\.peers\[0\]\.ca: .*server\.key is not a PEM certificate/],
    ['requestCert without a ca', { http: { host: '127.0.0.1', port: 0, tls: { cert: 'server.crt', key: 'server.key', requestCert: true } } }, /http\.tls\.requestCert: requestCert needs "ca"/],
  ]
  for (const [what, over, message] of cases) {
    write(over)
    const r = await runHub(file)
    t.equal(r.code, 2, `${what}: exit 2`)
    t.match(r.out, message, `${what}: named`)
  }
})
