/**
 * `voltway station init --ca FILE` for a hub that speaks TLS (docs/configuration.md
 * "TLS" and "Accounts"): the CA goes into station.json as `mqtt.ca`, the
 * enrollment is made over https trusting it, and the station comes online over
 * mqtts with what init printed. Without the CA the code is not spent.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError } from '../protocol/index.js'
import { buildStationConfig } from '../station/commands/init.js'
import { loadStationConfig } from '../station/config.js'
import { startAgentFor } from './helpers/charging-e2e.js'
import { testCerts } from './helpers/certs.js'
import { hubConfig, startTestHub, tempDir } from './helpers/hub.js'
import { runCli, waitUntil } from './helpers/station-agent.js'

const certs = testCerts()
const tls = { cert: certs.serverCert, key: certs.serverKey, requestCert: false }
const hub = await startTestHub(hubConfig({ mqtt: { listen: { host: '127.0.0.1', port: 0, tls }, allowAnonymous: false }, http: { host: '127.0.0.1', port: 0, tls } }))
t.teardown(() => hub.close())

t.test('station init --ca puts the CA into station.json (absolute path) and refuses one that is not a certificate', async (t) => {
  const { config } = buildStationConfig({ id: 'S1', hub: 'mqtts://127.0.0.1:8883', ca: certs.ca, password: 'pw' })
  t.equal(config.mqtt.ca, certs.ca)
  const notCert = join(tempDir('voltway-init-ca-'), 'not.pem')
  writeFileSync(notCert, 'hello\n')
  t.throws(() => buildStationConfig({ id: 'S1', hub: 'mqtts://127.0.0.1:8883', ca: notCert, password: 'pw' }), ConfigError)
  t.throws(() => buildStationConfig({ id: 'S1', hub: 'mqtt://127.0.0.1:1883', ca: certs.ca, password: 'pw' }), /a "ca" needs an mqtts:\/\//, 'a CA for a plain mqtt:// hub is a mistake, said so')
})

t.test('a station enrolls over https with --ca and comes online over mqtts; without --ca the code is not spent', async (t) => {
  t.match(hub.mqttUrl, /^mqtts:/)
  t.match(hub.httpUrl, /^https:/)
  const { code } = await hub.accounts.service.addStation('S7', { position: { lat: -12.27, lon: -38.97 }, powerKw: 11, priceMinorPerKwh: 55 })
  const dir = tempDir('voltway-init-tls-')
  const init = ['station', 'init', '--id', 'S7', '--hub', hub.mqttUrl, '--hub-http', hub.httpUrl, '--data-dir', join(dir, 'data'), '--enroll', code]

  const without = await runCli(init)
  t.equal(without.code, 1, 'refused without the CA')
  t.match(without.stderr, /PEER_UNAVAILABLE[\s\S]*give --ca/, "saying the hub's certificate is not trusted and what to pass")
  t.equal(without.stdout, '', 'no station.json printed')

  const withCa = await runCli([...init, '--ca', certs.ca])
  t.equal(withCa.code, 0, withCa.stderr)
  const file = join(dir, 'station.json')
  writeFileSync(file, withCa.stdout)
  const config = loadStationConfig(file)
  t.equal(config.mqtt.ca, certs.ca, 'station.json trusts the CA for mqtts')
  const agent = await startAgentFor(config)
  t.teardown(() => agent.stop())
  await waitUntil(() => hub.context.stations.get('S7')?.live.online, 10_000, 'S7 online at the hub over mqtts')
  t.pass('S7 online')
})
