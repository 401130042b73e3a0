/**
 * The federation client's call observer (hub/federation/call-observer.ts):
 * every call to a peer is reported once, with the peer's status (none when it
 * never answered) and its duration, and the peers' health on the dashboard and
 * `/metrics` count the same calls from those reports.
 */
import { createServer } from 'node:http'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import type { PeerCallReport } from '../hub/federation/call-observer.js'
import { FederationClient } from '../hub/federation/index.js'
import { HubMetrics } from '../hub/metrics.js'
import { PeerHealth } from '../hub/ui/peer-health.js'
import { deadUrl } from './helpers/federation-hubs.js'

const hubInfo = { hubId: 'salvador', name: 'Salvador Charging', city: 'Salvador', position: { lat: -12.97, lon: -38.5 }, stations: 2 }

/** A peer that knows one token: GET /federation/v1/hub answers its info, DELETE of a hold fails with 503. */
async function peer(t: Test): Promise<string> {
  const srv = createServer((req, res) => {
    const send = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (req.headers.authorization !== 'Bearer good') return send(401, { error: { code: 'UNAUTHORIZED', message: 'unknown token' } })
    if (req.method === 'GET') return send(200, hubInfo)
    return send(503, { error: { code: 'INTERNAL', message: 'down for a moment' } })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())))
  const addr = srv.address()
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
}

async function callAll(t: Test, onCall: (r: PeerCallReport) => void): Promise<void> {
  const url = await peer(t)
  const client = new FederationClient({
    peers: [
      { hubId: 'salvador', url, token: 'good' },
      { hubId: 'ilheus', url, token: 'stale' },
      { hubId: 'vitoria', url: await deadUrl(), token: 'good' },
    ],
    logger: pino({ level: 'silent' }),
    requestTimeoutMs: 500,
    maxRetries: 0,
    onCall,
  })
  t.teardown(() => client.close())
  await client.hubInfo('salvador')
  await client.hubInfo('salvador')
  await t.rejects(client.releaseHold('salvador', 'h1', 'k1'), { code: 'INTERNAL' })
  await t.rejects(client.hubInfo('ilheus'), { code: 'UNAUTHORIZED' })
  await t.rejects(client.hubInfo('vitoria'), { code: 'PEER_UNAVAILABLE' })
  await t.rejects(client.hubInfo('nobody'), { code: 'PEER_UNAVAILABLE' })
}

t.test('each call to a peer is reported once, after it ends, with the status the peer answered or none', async (t) => {
  const reports: PeerCallReport[] = []
  await callAll(t, (r) => reports.push(r))
  t.same(
    reports.map((r) => [r.hubId, r.method, r.path, r.status]),
    [
      ['salvador', 'GET', '/federation/v1/hub', 200],
      ['salvador', 'GET', '/federation/v1/hub', 200],
      ['salvador', 'DELETE', '/federation/v1/holds/h1', 503],
      ['ilheus', 'GET', '/federation/v1/hub', 401],
      ['vitoria', 'GET', '/federation/v1/hub', null],
    ],
    'a hub that is no peer makes no call and no report',
  )
  t.ok(reports.every((r) => r.durationMs >= 0 && r.durationMs < 5000), 'each with its duration')
})

t.test("an observer that throws never fails the call", async (t) => {
  await callAll(t, () => {
    throw new Error('observer bug')
  })
})

t.test("the peers' health and /metrics show the same outbound figures: calls, errors, token refusals", async (t) => {
  const metrics = new HubMetrics('feira', { stationsOnline: () => 0, stationsTotal: () => 0, bookings: async () => ({ reservations: 0, activeHolds: 0 }) })
  const health = new PeerHealth(['salvador', 'ilheus', 'vitoria'])
  await callAll(t, (r) => {
    metrics.onPeerCall(r)
    health.onOutboundCall(r, 1000)
  })
  const counter = (await metrics.registry.getSingleMetric('voltway_federation_client_requests_total')?.get())?.values ?? []
  const fromMetrics = (peer: string) => {
    const mine = counter.filter((v) => v.labels.peer === peer)
    const sum = (f: (s: string) => boolean) => mine.filter((v) => f(String(v.labels.status))).reduce((a, v) => a + v.value, 0)
    return { calls: sum(() => true), errors: sum((s) => s === 'none' || Number(s) >= 500), tokenRefusals: sum((s) => s === '401') }
  }
  for (const row of health.snapshot().peers) {
    t.match(row.outbound, fromMetrics(row.hubId), `${row.hubId}: the page's figures are /metrics' figures`)
  }
  t.match(health.snapshot().peers.find((p) => p.hubId === 'salvador')?.outbound, { calls: 3, errors: 1, tokenRefusals: 0, lastStatus: 503, lastCallAtMs: 1000 })
  t.match(health.snapshot().peers.find((p) => p.hubId === 'ilheus')?.outbound, { calls: 1, errors: 0, tokenRefusals: 1, lastStatus: 401 })
  t.match(health.snapshot().peers.find((p) => p.hubId === 'vitoria')?.outbound, { calls: 1, errors: 1, lastStatus: null })
  const text = await metrics.text()
  t.match(text, /voltway_federation_client_request_duration_seconds_count\{[^}]*peer="salvador"[^}]*\} 3/, 'the latency histogram counts every call')
})
