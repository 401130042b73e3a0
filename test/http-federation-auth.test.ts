/**
 * Federation authorization is decided by the route that actually runs (the
 * federation scope's hook), never by string tests on the URL: every
 * federation route, under every spelling of its path that the router may
 * decode back to it, refuses a call without a token (401, or 404 when the
 * spelling reaches no route) and never answers with data. Refusals are
 * counted in the federation metric.
 */
import t from 'tap'
import type { Receipt } from '../protocol/index.js'
import { BAHIA, BAHIA_LINKS, inMinutes, startFederationHubs, token } from './helpers/federation-hubs.js'
import { rawRequest } from './helpers/http-raw.js'

const receipt: Receipt = {
  sessionId: 'sess-1', stationId: 'SSA-1', hubId: 'salvador', vehicleId: 'V1', startedAt: '2026-11-24T10:00:00Z', endedAt: '2026-11-24T10:30:00Z',
  energyWh: 1000, priceMinorPerKwh: 73, costMinor: 73, currency: 'BRL',
}

/** Every federation route, with a path whose segments are all spelled out. */
const ROUTES: ReadonlyArray<{ method: string; path: string; query?: string }> = [
  { method: 'GET', path: '/federation/v1/hub' },
  { method: 'GET', path: '/federation/v1/stations', query: '?lat=-12.97&lon=-38.5&rangeKm=50' },
  { method: 'POST', path: '/federation/v1/holds' },
  { method: 'POST', path: '/federation/v1/holds/h-1/confirm' },
  { method: 'DELETE', path: '/federation/v1/holds/h-1' },
  { method: 'DELETE', path: '/federation/v1/reservations/r-1' },
  { method: 'GET', path: '/federation/v1/vehicles/V1/receipts' },
]

const pct = (c: string): string => `%${c.charCodeAt(0).toString(16)}`

/** Spellings of one path: percent-encoded letters and digits, `//`, `/./`, `..`, trailing slash, case, encoded slash. */
function spellings(path: string): string[] {
  const segs = path.split('/').slice(1)
  const last = segs[segs.length - 1] as string
  const swapLast = (s: string): string => `/${[...segs.slice(0, -1), s].join('/')}`
  return [
    path,
    path.replace('/federation', `/${pct('f')}ederation`),
    path.replace('/federation', `/${pct('f').toUpperCase()}ederation`),
    path.replace('/v1', `/v${pct('1')}`),
    swapLast(`${pct(last[0] as string)}${last.slice(1)}`),
    `/${segs.map((s) => [...s].map(pct).join('')).join('/')}`,
    `/${path}`,
    path.replace('/v1', '//v1'),
    path.replace('/federation', '/./federation'),
    path.replace('/v1', '/./v1'),
    path.replace('/v1', '/x/../v1'),
    path.replace('/v1', '/v1/x/..'),
    `${path}/`,
    path.toUpperCase(),
    path.replace('federation', 'Federation'),
    path.replace('/federation/v1', '/federation%2Fv1'),
    path.replace('/federation/v1', '/federation%2fv1'),
  ]
}

t.test('federation authorization is decided by the route that runs: no spelling of any federation path passes without a token', async (t) => {
  const h = await startFederationHubs({
    specs: BAHIA.slice(0, 2),
    links: BAHIA_LINKS.slice(0, 1),
    storage: 'memory',
    receipts: async (_hub, v) => (v === 'V1' ? [receipt] : []),
  })
  t.teardown(() => h.close())
  const salvador = h.hub('salvador')
  const port = Number(new URL(salvador.url).port)
  const body = JSON.stringify({
    holdId: 'h-1', txId: 't-1', txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: inMinutes(h.clock, 180),
    from: { lat: -12.97, lon: -38.5 }, rangeKm: 50, ttlSeconds: 30,
  })

  let refused = 0
  for (const r of ROUTES) {
    for (const spelled of spellings(r.path)) {
      const url = `${spelled}${r.query ?? ''}`
      const headers: Record<string, string> = { 'idempotency-key': `k-${refused}` }
      if (r.method === 'POST') headers['content-type'] = 'application/json'
      const res = await rawRequest(port, r.method, url, headers, r.method === 'POST' && r.path.endsWith('/holds') ? body : '')
      t.ok(res.status === 401 || res.status === 404, `${r.method} ${url} without a token: ${res.status}`)
      t.same(Object.keys(JSON.parse(res.body) as object), ['error'], `${r.method} ${url} answers an error and no data`)
      if (res.status === 401) refused++
    }
  }
  t.same(await salvador.store.reservations.counts(h.clock.now()), { reservations: 0, activeHolds: 0 }, 'nothing was booked')

  // With the peer's token the same decoded spellings reach the route: the router decodes, the scope decides.
  const ok = await rawRequest(port, 'GET', `/${pct('f')}ederation/v${pct('1')}/vehicles/V1/receipts`, { authorization: `Bearer ${token('feira', 'salvador')}` })
  t.equal(ok.status, 200, 'a known token passes under an encoded spelling')
  t.match(JSON.parse(ok.body), { receipts: [{ sessionId: 'sess-1' }] })

  const metrics = (await salvador.app.inject({ method: 'GET', url: '/metrics' })).body
  const counted = [...metrics.matchAll(/^voltway_federation_requests_total\{[^}]*status="401"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0)
  t.ok(refused > ROUTES.length, `refusals happened under several spellings (${refused})`)
  t.equal(counted, refused, 'every refusal is counted in the 401 metric')
})
