/**
 * A peer with replicas (`urls` in hub.json): feira calls salvador, which runs
 * two replicas (real federation HTTP servers on one store). Calls are spread
 * over both; with one replica closed or gone abruptly, calls and trips still
 * succeed on the other.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { FederationClient } from '../hub/federation/index.js'
import { testCerts } from './helpers/certs.js'
import { BAHIA, BAHIA_LINKS, inMinutes, startFederationHubs, type FedHub, type FederationHarness } from './helpers/federation-hubs.js'
import { freePort } from './helpers/net.js'

const FROM_FEIRA = { lat: -12.251, lon: -38.951 }
const TWO_HUBS = BAHIA.filter((h) => h.hubId !== 'ilheus')
const LINKS = BAHIA_LINKS.filter((l) => l.from !== 'ilheus' && l.to !== 'ilheus')

const NEAR_SALVADOR = { lat: -12.97, lon: -38.5, rangeKm: 50 }

/**
 * Requests each server received on the routes the test itself calls (Node's own 'request' event,
 * so a retry counts too). `/hub` is left out: the caller's hub directory fetches it in the
 * background at start, whenever its retries happen to land.
 */
function countRequests(hub: FedHub): () => number {
  let n = 0
  hub.app.server.on('request', (req: { url?: string }) => {
    if (!req.url?.endsWith('/hub')) n++
  })
  return () => n
}

/** Gone as a killed process goes: every open connection reset, the port closed. */
async function kill(hub: FedHub): Promise<void> {
  hub.app.server.closeAllConnections()
  await hub.stop()
}

async function salvadorWithTwoReplicas(t: Test): Promise<{ h: FederationHarness; a: FedHub; b: FedHub }> {
  const port = await freePort()
  const h = await startFederationHubs({ specs: TWO_HUBS, links: LINKS, replicaPorts: { salvador: [port] }, tuning: { requestTimeoutMs: 2000 } })
  t.teardown(() => h.close())
  const b = await h.startReplica('salvador', 'b', port)
  return { h, a: h.hub('salvador'), b }
}

async function trip(h: FederationHarness, k: number, vehicleId: string): Promise<string[]> {
  const page = await h.hub('feira').call('route.list', { destination: 'salvador' })
  const times = [inMinutes(h.clock, 180 + k * 300), inMinutes(h.clock, 300 + k * 300)]
  const { trip } = await h.hub('feira').call('route.reserve', { routeId: page.route.routeId, times, position: FROM_FEIRA, rangeKm: 250 }, vehicleId)
  return trip.legs.map((l) => l.hubId)
}

t.test('calls to a peer with two urls are spread over both replicas', async (t) => {
  const { h, a, b } = await salvadorWithTwoReplicas(t)
  t.same(h.hub('feira').config.federation.peers.find((p) => p.hubId === 'salvador')?.urls, [a.url, b.url], 'the peer lists both replicas')
  const [toA, toB] = [countRequests(a), countRequests(b)]
  const client = h.hub('feira').federation.client
  for (let i = 0; i < 20; i++) await client.stations('salvador', NEAR_SALVADOR)
  t.ok(toA() >= 5 && toB() >= 5, `both replicas served the station search (${toA()} and ${toB()} of 20)`)
  t.equal(toA() + toB(), 20, 'each call once')
  const [beforeA, beforeB] = [toA(), toB()]
  for (let k = 0; k < 4; k++) t.same(await trip(h, k, `V${k}`), ['feira', 'salvador'])
  t.ok(toA() > beforeA && toB() > beforeB, `the trips' holds went to both (${toA() - beforeA} and ${toB() - beforeB} calls)`)
  const booked = await a.store.reservations.counts(h.clock.now())
  t.equal(booked.reservations, 4, 'one store behind both replicas: every hop booked once')
})

t.test('one replica closed: federation calls and trips still succeed on the other', async (t) => {
  const { h, a, b } = await salvadorWithTwoReplicas(t)
  const client = h.hub('feira').federation.client
  // Keep-alive connections to both exist before one goes away.
  for (let i = 0; i < 6; i++) await client.hubInfo('salvador')
  await b.stop()
  const toA = countRequests(a)
  for (let i = 0; i < 20; i++) t.equal((await client.stations('salvador', NEAR_SALVADOR)).stations.length, 2)
  t.equal(toA(), 20, 'every call answered by the live replica')
  for (let k = 0; k < 4; k++) t.same(await trip(h, k, `V${k}`), ['feira', 'salvador'], `trip ${k} booked`)
  t.equal((await a.store.reservations.counts(h.clock.now())).reservations, 4)
})

t.test('one replica gone abruptly (connections reset mid keep-alive): calls and trips still succeed', async (t) => {
  const { h, a, b } = await salvadorWithTwoReplicas(t)
  const client = h.hub('feira').federation.client
  for (let i = 0; i < 6; i++) await client.hubInfo('salvador')
  for (let k = 0; k < 2; k++) t.same(await trip(h, k, `V${k}`), ['feira', 'salvador'])
  await kill(a)
  for (let i = 0; i < 20; i++) t.equal((await client.stations('salvador', NEAR_SALVADOR)).stations.length, 2)
  for (let k = 2; k < 6; k++) t.same(await trip(h, k, `V${k}`), ['feira', 'salvador'], `trip ${k} booked`)
  t.equal((await b.store.reservations.counts(h.clock.now())).reservations, 6, 'every hop booked once')
})

t.test('TLS holds for every url: each replica is checked against the peer ca', async (t) => {
  const certs = testCerts()
  const hubInfo = { hubId: 'salvador', name: 'Salvador Charging', city: 'Salvador', position: { lat: -12.97, lon: -38.5 }, stations: 2 }
  const seen = [0, 0]
  const servers: HttpsServer[] = []
  for (const i of [0, 1]) {
    const srv = createHttpsServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (_req, res) => {
      seen[i] = (seen[i] ?? 0) + 1
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(hubInfo))
    })
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    servers.push(srv)
  }
  const port = (s: HttpsServer): number => (s.address() as AddressInfo).port
  const urls = servers.map((s) => `https://127.0.0.1:${port(s)}`)
  const client = new FederationClient({ peers: [{ hubId: 'salvador', urls, token: 't', ca: certs.ca }], logger: pino({ level: 'silent' }), minRetryDelayMs: 10 })
  const untrusting = new FederationClient({ peers: [{ hubId: 'salvador', urls, token: 't', ca: certs.otherCa }], logger: pino({ level: 'silent' }), minRetryDelayMs: 10 })
  t.teardown(async () => {
    await client.close()
    await untrusting.close()
    for (const s of servers) {
      s.closeAllConnections()
      await new Promise<void>((r) => s.close(() => r()))
    }
  })
  for (let i = 0; i < 10; i++) t.equal((await client.hubInfo('salvador')).hubId, 'salvador')
  t.ok((seen[0] ?? 0) > 0 && (seen[1] ?? 0) > 0, `both https replicas answered (${seen.join(' and ')})`)
  await t.rejects(untrusting.hubInfo('salvador'), { code: 'PEER_UNAVAILABLE', details: { tls: true } }, 'a CA that signed neither is refused on every url')
  const first = servers[0] as HttpsServer
  first.closeAllConnections()
  await new Promise<void>((r) => first.close(() => r()))
  const before = seen[1] ?? 0
  for (let i = 0; i < 10; i++) t.equal((await client.hubInfo('salvador')).hubId, 'salvador')
  t.equal((seen[1] ?? 0) - before, 10, 'the second replica answers alone, over TLS')
})

/** A plain HTTP server counting requests: `ok` answers 204, `reset` drops the connection once it has the request. */
async function server(t: Test, kind: 'ok' | 'reset'): Promise<{ url: string; seen: () => number }> {
  let n = 0
  const srv: HttpServer = createHttpServer((req, res) => {
    n++
    if (kind === 'reset') req.socket.destroy()
    else res.writeHead(204).end()
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.teardown(async () => {
    srv.closeAllConnections()
    await new Promise<void>((r) => srv.close(() => r()))
  })
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen: () => n }
}

function clientOf(t: Test, urls: string[]): FederationClient {
  const client = new FederationClient({ peers: [{ hubId: 'salvador', urls, token: 't' }], logger: pino({ level: 'silent' }), minRetryDelayMs: 10 })
  t.teardown(() => client.close())
  return client
}

/** A POST without an Idempotency-Key: not safe to repeat once the peer may have it. */
const unsafePost = (client: FederationClient) => client.request('salvador', { method: 'POST', path: '/federation/v1/anything', body: {}, schema: null })

t.test('a call not safe to repeat goes to the next replica when the connection to one was refused (nothing was sent)', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`
  const live = await server(t, 'ok')
  const client = clientOf(t, [dead, live.url])
  for (let i = 0; i < 6; i++) await unsafePost(client)
  t.equal(live.seen(), 6, 'every call answered by the live replica, once')
})

t.test('a call not safe to repeat is never sent twice once a replica had it; with an Idempotency-Key it is', async (t) => {
  const resetting = await server(t, 'reset')
  const live = await server(t, 'ok')
  const client = clientOf(t, [resetting.url, live.url])
  let failed = 0
  for (let i = 0; i < 10; i++) {
    await unsafePost(client).catch((e: unknown) => {
      t.match(e, { code: 'PEER_UNAVAILABLE' })
      failed++
    })
  }
  t.ok(resetting.seen() >= 1, `some calls went to the replica that drops them (${resetting.seen()})`)
  t.equal(failed, resetting.seen(), 'each of those failed, not resent')
  t.equal(resetting.seen() + live.seen(), 10, 'every call sent once')
  const [r0, l0] = [resetting.seen(), live.seen()]
  for (let i = 0; i < 10; i++) await client.request('salvador', { method: 'POST', path: '/federation/v1/anything', body: {}, idempotencyKey: `k-${i}`, schema: null })
  t.equal(live.seen() - l0, 10, `with a key, every call ends answered by the live replica (${resetting.seen() - r0} dropped first, then resent)`)
})
