/**
 * Body-less federation calls are accepted with `Content-Type:
 * application/json` and an empty body or `{}` (many HTTP clients send the
 * header on every request); routes that need a body still validate it.
 */
import t from 'tap'
import { BAHIA, BAHIA_LINKS, inMinutes, startFederationHubs, token } from './helpers/federation-hubs.js'
import { rawRequest } from './helpers/http-raw.js'

const JSON_TYPE = { 'content-type': 'application/json' }

t.test('an empty body or {} is accepted wherever a federation route takes no body', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA.slice(0, 2), links: BAHIA_LINKS.slice(0, 1), storage: 'memory' })
  t.teardown(() => h.close())
  const port = Number(new URL(h.hub('salvador').url).port)
  const auth = { authorization: `Bearer ${token('feira', 'salvador')}` }
  let n = 0
  const call = (method: string, path: string, body: string, contentType = true) =>
    rawRequest(port, method, path, { ...auth, ...(contentType ? JSON_TYPE : {}), 'idempotency-key': `k-${n++}` }, body)
  const hold = (holdId: string) =>
    call('POST', '/federation/v1/holds', JSON.stringify({
      holdId, txId: `t-${holdId}`, txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: inMinutes(h.clock, 180 + 130 * n),
      from: { lat: -12.97, lon: -38.5 }, rangeKm: 50, ttlSeconds: 30,
    }))

  for (const [label, body] of [['an empty body', ''], ['{}', '{}'], ['whitespace', ' \r\n']] as const) {
    const holdId = `h-${n}`
    t.equal((await hold(holdId)).status, 201, `hold ${holdId} placed`)
    const confirmed = await call('POST', `/federation/v1/holds/${holdId}/confirm`, body)
    t.equal(confirmed.status, 200, `POST confirm with application/json and ${label}: ${confirmed.body}`)
    const reservationId = (JSON.parse(confirmed.body) as { reservationId: string }).reservationId
    t.equal((await call('DELETE', `/federation/v1/reservations/${reservationId}`, body)).status, 204, `DELETE reservation with ${label}`)
    const other = `h-${n}`
    t.equal((await hold(other)).status, 201)
    t.equal((await call('DELETE', `/federation/v1/holds/${other}`, body)).status, 204, `DELETE hold with ${label}`)
  }
  t.same(await h.hub('salvador').store.reservations.counts(h.clock.now()), { reservations: 0, activeHolds: 0 }, 'every call took effect')

  const extra = await call('DELETE', '/federation/v1/holds/h-x', '{"why":"because"}')
  t.equal(extra.status, 400, 'a body on a route that takes none is refused')
  t.match(JSON.parse(extra.body), { error: { code: 'BAD_REQUEST' } })
  const empty = await call('POST', '/federation/v1/holds', '')
  t.equal(empty.status, 400, 'a route that needs a body still validates it')
  t.match(JSON.parse(empty.body), { error: { code: 'BAD_REQUEST' } })
  const broken = await call('DELETE', '/federation/v1/holds/h-x', '{')
  t.equal(broken.status, 400, 'malformed JSON is still refused')
  const poisoned = await call('POST', '/federation/v1/holds', '{"__proto__":{"x":1}}')
  t.equal(poisoned.status, 400, 'prototype poisoning is still refused')
})
