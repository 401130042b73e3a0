/**
 * TLS on the hub (docs/configuration.md "TLS", docs/operator-guide.md "TLS"):
 * the embedded broker over mqtts with the stock Mosquitto clients, the HTTP
 * server over https, peers called over https and refused when their
 * certificate does not match, and mutual TLS between hubs. Certificates are
 * made at run time (test/helpers/certs.ts).
 */
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { connectAsync } from 'mqtt'
import { Agent, request } from 'undici'
import type { Hub } from '../hub/app.js'
import type { HubConfig } from '../hub/config.js'
import { VoltwayError } from '../protocol/index.js'
import { testCerts, type TestCerts } from './helpers/certs.js'
import { hubConfig, startTestHub } from './helpers/hub.js'
import { mosquittoTools } from './helpers/mosquitto.js'
import { run } from './helpers/broker-cli.js'

const certs: TestCerts = testCerts()
const { rr } = mosquittoTools()
const REQUEST = '{"id":"1","op":"hub.info","args":{}}'

async function hub(t: Test, cfg: HubConfig): Promise<Hub> {
  const h = await startTestHub(cfg)
  t.teardown(() => h.close())
  return h
}

const brokerTls = (over: Partial<{ cert: string; key: string; ca: string; requestCert: boolean }> = {}): HubConfig =>
  hubConfig({ mqtt: { listen: { host: '127.0.0.1', port: 0, tls: { cert: certs.serverCert, key: certs.serverKey, requestCert: false, ...over } }, allowAnonymous: false } })

/** mosquitto_rr as vehicle V1: hub.info through the broker at `url`. */
function rrArgs(url: string, extra: string[]): string[] {
  const u = new URL(url)
  return ['-h', u.hostname, '-p', u.port, '-u', 'V1', '-P', 'v1-pass', '-t', 'voltway/v1/hubs/feira/req/V1', '-e', 'voltway/v1/vehicles/V1/res', '-m', REQUEST, '-W', '5', ...extra]
}

t.test('mosquitto_rr with --cafile talks to the embedded broker over TLS and gets the hub.info answer', { skip: rr ? false : 'mosquitto_rr not installed' }, async (t) => {
  const h = await hub(t, brokerTls())
  t.match(h.mqttUrl, /^mqtts:\/\/127\.0\.0\.1:\d+$/, 'the broker URL says mqtts')
  const r = await run(rr as string, rrArgs(h.mqttUrl, ['--cafile', certs.ca]))
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /\{"id":"1","ok":true,"result":\{"hubId":"feira"/)
})

t.test('a client that does not trust the broker\'s CA, or speaks plain MQTT to the TLS port, is refused', { skip: rr ? false : 'mosquitto_rr not installed' }, async (t) => {
  const h = await hub(t, brokerTls())
  const wrongCa = await run(rr as string, rrArgs(h.mqttUrl, ['--cafile', certs.otherCa]))
  t.not(wrongCa.code, 0, 'mosquitto_rr trusting another CA fails')
  t.notMatch(wrongCa.stdout, /"ok":true/, 'and gets no answer')
  const plain = await run(rr as string, rrArgs(h.mqttUrl, []))
  t.not(plain.code, 0, 'plain MQTT to the TLS port fails')
  t.notMatch(plain.stdout, /"ok":true/, 'and gets no answer')
})

t.test('requestCert: the broker refuses a client without a certificate signed by its ca and serves one with it', { skip: rr ? false : 'mosquitto_rr not installed' }, async (t) => {
  const h = await hub(t, brokerTls({ ca: certs.ca, requestCert: true }))
  const without = await run(rr as string, rrArgs(h.mqttUrl, ['--cafile', certs.ca]))
  t.not(without.code, 0, 'no client certificate: refused')
  const withCert = await run(rr as string, rrArgs(h.mqttUrl, ['--cafile', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey]))
  t.equal(withCert.code, 0, withCert.stderr)
  t.match(withCert.stdout, /"ok":true/, 'with one: answered (the hub\'s own link still works, in process)')
})

t.test('an MQTT.js vehicle logs in over mqtts with the CA; the password still decides who it is', async (t) => {
  const h = await hub(t, brokerTls())
  const ok = await connectAsync(h.mqttUrl, { username: 'V1', password: 'v1-pass', ca: readFileSync(certs.ca), reconnectPeriod: 0 })
  await ok.endAsync()
  const bad = await connectAsync(h.mqttUrl, { username: 'V1', password: 'wrong', ca: readFileSync(certs.ca), reconnectPeriod: 0 }).catch((e: unknown) => e as { code?: number })
  t.match(bad, { code: 4 }, 'a wrong password over TLS is still 4 (bad username or password)')
})

const httpsPeer = (over: Partial<{ cert: string; key: string; ca: string; requestCert: boolean }> = {}): HubConfig =>
  hubConfig({
    hubId: 'salvador',
    http: { host: '127.0.0.1', port: 0, tls: { cert: certs.serverCert, key: certs.serverKey, requestCert: false, ...over } },
    federation: { peers: [{ hubId: 'feira', url: 'https://127.0.0.1:1', token: 'to-feira-000000', acceptToken: 'from-feira-00000' }] },
  })

/** Hub feira with salvador (at `url`) as its peer. */
const caller = (url: string, peer: Partial<{ ca: string; cert: string; key: string; token: string }> = {}): HubConfig =>
  hubConfig({ federation: { peers: [{ hubId: 'salvador', url, token: 'from-feira-00000', acceptToken: 'to-feira-000000', ca: certs.ca, ...peer }] } })

t.test('a hub calls a peer over https with the CA it was given: GET /federation/v1/hub', async (t) => {
  const b = await hub(t, httpsPeer())
  t.match(b.httpUrl, /^https:\/\//, 'the peer serves https')
  const a = await hub(t, caller(b.httpUrl))
  const info = await a.federation.client.hubInfo('salvador')
  t.equal(info.hubId, 'salvador')
})

for (const [what, tls, peerCa] of [
  ['does not name the host of its url', { cert: certs.wrongNameCert, key: certs.wrongNameKey }, certs.ca],
  ['is signed by a CA the hub does not trust', { cert: certs.otherServerCert, key: certs.otherServerKey }, certs.ca],
  ['is fine but the hub trusts another CA', {}, certs.otherCa],
] as const) {
  t.test(`a peer whose certificate ${what} is refused: PEER_UNAVAILABLE with a hint naming TLS`, async (t) => {
    const b = await hub(t, httpsPeer(tls))
    const a = await hub(t, caller(b.httpUrl, { ca: peerCa }))
    const err: unknown = await a.federation.client.hubInfo('salvador').catch((e: unknown) => e)
    t.ok(err instanceof VoltwayError, 'a coded error')
    t.match(err, { code: 'PEER_UNAVAILABLE', details: { hubId: 'salvador', tls: true } })
    t.match((err as Error).message, /TLS handshake failed.*"ca".*"url"/)
  })
}

t.test('mutual TLS: a peer that requires client certificates refuses a hub without one and serves one with it; the token still says who calls', async (t) => {
  const b = await hub(t, httpsPeer({ ca: certs.ca, requestCert: true }))
  const without = await hub(t, caller(b.httpUrl))
  const err: unknown = await without.federation.client.hubInfo('salvador').catch((e: unknown) => e)
  t.match(err, { code: 'PEER_UNAVAILABLE', details: { tls: true } }, 'no client certificate: refused in the handshake')
  const withCert = await hub(t, caller(b.httpUrl, { cert: certs.clientCert, key: certs.clientKey }))
  t.equal((await withCert.federation.client.hubInfo('salvador')).hubId, 'salvador', 'with one: served')
  const wrongToken = await hub(t, caller(b.httpUrl, { cert: certs.clientCert, key: certs.clientKey, token: 'not-a-known-token' }))
  const denied: unknown = await wrongToken.federation.client.hubInfo('salvador').catch((e: unknown) => e)
  t.match(denied, { code: 'UNAUTHORIZED' }, 'a valid client certificate with an unknown token is still refused')
})

t.test('over https, /healthz answers and the dashboard session cookie is Secure', async (t) => {
  const b = await hub(t, { ...httpsPeer(), operators: [{ name: 'ana', token: 'operator-token-0123456789' }] })
  const dispatcher = new Agent({ connect: { ca: readFileSync(certs.ca) } })
  t.teardown(() => dispatcher.close())
  const health = await request(`${b.httpUrl}/healthz`, { dispatcher })
  t.equal(health.statusCode, 200)
  await health.body.dump()
  const login = await request(`${b.httpUrl}/ui/login`, {
    dispatcher,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: b.httpUrl },
    body: 'token=operator-token-0123456789',
  })
  await login.body.dump()
  t.equal(login.statusCode, 303, 'logged in')
  t.match(String(login.headers['set-cookie']), /;\s*Secure/i, 'the cookie is Secure')
})

t.test('closing the TLS broker ends a connection still in its handshake at once', async (t) => {
  const h = await startTestHub(brokerTls())
  const u = new URL(h.mqttUrl)
  const idle = connect(Number(u.port), u.hostname)
  await once(idle, 'connect')
  const started = Date.now()
  await h.close()
  t.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms, not after the 10 s handshake timeout`)
  idle.destroy()
})
