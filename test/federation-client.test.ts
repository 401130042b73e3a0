/** The federation client against real local HTTP servers: timeouts, retries only when idempotent, coded errors, validation. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { pino } from 'pino'
import t from 'tap'
import { z } from 'zod'
import { FederationClient } from '../hub/federation/index.js'
import { VoltwayError } from '../protocol/index.js'
import { deadUrl, startHangingServer } from './helpers/federation-hubs.js'
import { waitUntil } from './helpers/net.js'

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

/** A scripted HTTP server: `answer` decides each response; every request and connection is counted. */
async function scripted(answer: (req: Seen, n: number, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[]; connections: () => number; close(): Promise<void> }> {
  const seen: Seen[] = []
  let connections = 0
  const srv: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }
      seen.push(s)
      answer(s, seen.length, res)
    })
  })
  srv.on('connection', () => connections++)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const addr = srv.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections()
        srv.close(() => r())
      }),
  }
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

const hubInfo = { hubId: 'salvador', name: 'Salvador Charging', city: 'Salvador', position: { lat: -12.97, lon: -38.5 }, stations: 2 }

function client(url: string, over: Partial<ConstructorParameters<typeof FederationClient>[0]> = {}): FederationClient {
  return new FederationClient({
    peers: [{ hubId: 'salvador', url, token: 'feira-to-salvador' }],
    logger: pino({ level: 'silent' }),
    requestTimeoutMs: 300,
    minRetryDelayMs: 10,
    ...over,
  })
}

const code = (e: unknown): string => (e instanceof VoltwayError ? e.code : `not a VoltwayError: ${String(e)}`)

t.test('answers are validated; the bearer token and Idempotency-Key are sent; keep-alive reuses one connection', async (t) => {
  const srv = await scripted((req, _n, res) => (req.method === 'GET' ? json(res, 200, hubInfo) : res.writeHead(204).end()))
  const c = client(srv.url)
  t.teardown(async () => {
    await c.close()
    await srv.close()
  })
  t.same(await c.hubInfo('salvador'), hubInfo)
  await c.releaseHold('salvador', 'h1', 'key-1')
  for (let i = 0; i < 20; i++) await c.hubInfo('salvador')
  t.equal(srv.seen[0]?.headers.authorization, 'Bearer feira-to-salvador')
  t.equal(srv.seen[1]?.headers['idempotency-key'], 'key-1')
  t.equal(srv.seen[1]?.method, 'DELETE')
  t.equal(srv.seen[1]?.url, '/federation/v1/holds/h1')
  t.ok(srv.connections() <= 2, `keep-alive: ${srv.connections()} connections for 22 sequential calls`)
})

t.test('a peer that accepts the connection but never answers: PEER_UNAVAILABLE quickly, no retry', async (t) => {
  const hang = await startHangingServer()
  const c = client(hang.url)
  t.teardown(async () => {
    await c.close()
    await hang.close()
  })
  const started = Date.now()
  const err = await c.hubInfo('salvador').catch((e: unknown) => e)
  const ms = Date.now() - started
  t.equal(code(err), 'PEER_UNAVAILABLE')
  t.match((err as VoltwayError).details, { hubId: 'salvador', cause: 'TIMEOUT' })
  t.ok(ms >= 290 && ms < 1500, `gave up after ${ms} ms (timeout 300 ms)`)
  t.equal(hang.connections(), 1, 'a timeout is not retried')
})

t.test('a per-call timeout overrides the default (a hold that may wait longer)', async (t) => {
  const srv = await scripted((_req, _n, res) => setTimeout(() => json(res, 200, hubInfo), 500))
  const c = client(srv.url)
  t.teardown(async () => {
    await c.close()
    await srv.close()
  })
  t.equal(code(await c.hubInfo('salvador').catch((e: unknown) => e)), 'PEER_UNAVAILABLE')
  t.same(await c.hubInfo('salvador', { timeoutMs: 2000 }), hubInfo)
})

t.test('a body that stalls after the headers times out too', async (t) => {
  const srv = await scripted((_req, _n, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"hubId":')
  })
  const c = client(srv.url)
  t.teardown(async () => {
    await c.close()
    await srv.close()
  })
  const err = await c.hubInfo('salvador').catch((e: unknown) => e)
  t.equal(code(err), 'PEER_UNAVAILABLE')
  t.match((err as VoltwayError).details, { cause: 'TIMEOUT' })
})

t.test('a dead peer: connection refused is retried with backoff, then PEER_UNAVAILABLE', async (t) => {
  const c = client(await deadUrl(), { maxRetries: 2, minRetryDelayMs: 20 })
  t.teardown(() => c.close())
  const started = Date.now()
  const err = await c.releaseHold('salvador', 'h', 'k').catch((e: unknown) => e)
  t.equal(code(err), 'PEER_UNAVAILABLE')
  t.match((err as VoltwayError).details, { hubId: 'salvador', cause: 'ECONNREFUSED' })
  t.ok(Date.now() - started >= 20 + 40 - 5, 'waited the two backoffs')
})

t.test('retries only idempotent calls: GET, DELETE and a POST with a key yes; a POST without a key no', async (t) => {
  const failFirst = new Map<string, number>()
  const srv = await scripted((req, _n, res) => {
    const k = `${req.method} ${req.url} ${String(req.headers['idempotency-key'] ?? '')}`
    const n = (failFirst.get(k) ?? 0) + 1
    failFirst.set(k, n)
    if (n === 1) return json(res, 503, { error: { code: 'INTERNAL', message: 'busy' } })
    if (req.method === 'DELETE') return res.writeHead(204).end()
    return json(res, 200, { ok: true })
  })
  const c = client(srv.url)
  t.teardown(async () => {
    await c.close()
    await srv.close()
  })
  const Ok = z.object({ ok: z.literal(true) })
  t.same(await c.request('salvador', { method: 'GET', path: '/x', schema: Ok }), { ok: true }, 'GET retried')
  await c.request('salvador', { method: 'DELETE', path: '/y', idempotencyKey: 'd', schema: null })
  t.pass('DELETE retried')
  t.same(await c.request('salvador', { method: 'POST', path: '/z', body: {}, idempotencyKey: 'p', schema: Ok }), { ok: true }, 'POST with a key retried')
  const err = await c.request('salvador', { method: 'POST', path: '/w', body: {}, schema: Ok }).catch((e: unknown) => e)
  t.equal(code(err), 'INTERNAL', "a POST without a key is not retried: the peer's 503 answer comes back as it is")
  t.same(srv.seen.map((s) => `${s.method} ${s.url}`), ['GET /x', 'GET /x', 'DELETE /y', 'DELETE /y', 'POST /z', 'POST /z', 'POST /w'])
  t.equal(srv.seen[5]?.body, '{}', 'the retried POST carries its body again')
})

t.test("a peer's coded error comes back as a VoltwayError with its code and details (plus hubId)", async (t) => {
  const srv = await scripted((_req, _n, res) => json(res, 409, { error: { code: 'NO_STATION_AVAILABLE', message: 'full', details: { waitDie: 'full' } } }))
  const c = client(srv.url)
  t.teardown(async () => {
    await c.close()
    await srv.close()
  })
  const err = await c
    .placeHold('salvador', { txId: 't', txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: '2026-11-24T15:00:00Z', from: { lat: 0, lon: 0 }, rangeKm: 10, ttlSeconds: 30 }, 'k')
    .catch((e: unknown) => e)
  t.equal(code(err), 'NO_STATION_AVAILABLE')
  t.same((err as VoltwayError).details, { waitDie: 'full', hubId: 'salvador' })
  t.equal(srv.seen.length, 1, 'a 409 is an answer, not retried')
})

t.test('an answer that is not what the protocol says is PEER_UNAVAILABLE', async (t) => {
  const answers = [
    (res: ServerResponse) => json(res, 200, { hubId: 'x' }),
    (res: ServerResponse) => res.writeHead(200).end('not json'),
    (res: ServerResponse) => json(res, 418, { error: { code: 'I_AM_A_TEAPOT', message: 'no' } }),
    (res: ServerResponse) => res.writeHead(404).end('<html>'),
  ]
  const srv = await scripted((_req, n, res) => answers[(n - 1) % answers.length]?.(res))
  const c = client(srv.url)
  t.teardown(async () => {
    await c.close()
    await srv.close()
  })
  for (let i = 0; i < answers.length; i++) t.equal(code(await c.hubInfo('salvador').catch((e: unknown) => e)), 'PEER_UNAVAILABLE', `answer ${i}`)
  t.equal(code(await c.hubInfo('stranger').catch((e: unknown) => e)), 'PEER_UNAVAILABLE', 'a hub that is not a peer')
})

t.test('close aborts calls still running', async (t) => {
  const hang = await startHangingServer()
  const c = client(hang.url, { requestTimeoutMs: 10_000 })
  t.teardown(() => hang.close())
  const pending = c.hubInfo('salvador').catch((e: unknown) => e)
  await waitUntil(() => hang.connections() > 0, 5000, 'the call to be in flight')
  const started = Date.now()
  await c.close()
  t.equal(code(await pending), 'PEER_UNAVAILABLE')
  t.ok(Date.now() - started < 1000)
})
