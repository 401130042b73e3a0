/**
 * A federation refusal the caller caused says what to do about it: the
 * token, the Idempotency-Key, a hold id taken by another peer.
 */
import t from 'tap'
import { BAHIA, BAHIA_LINKS, inMinutes, startFederationHubs, token } from './helpers/federation-hubs.js'
import { rawRequest } from './helpers/http-raw.js'

const JSON_TYPE = { 'content-type': 'application/json' }

t.test("each federation refusal the caller caused carries a hint that matches its cause", async (t) => {
  const h = await startFederationHubs({ specs: BAHIA.slice(0, 3), links: BAHIA_LINKS.slice(0, 2), storage: 'memory' })
  t.teardown(() => h.close())
  const port = Number(new URL(h.hub('salvador').url).port)
  const as = (peer: string) => ({ authorization: `Bearer ${token(peer, 'salvador')}` })
  const other = BAHIA.map((s) => s.hubId).find((id) => id !== 'salvador' && id !== 'feira') ?? ''
  const hold = (over: Record<string, unknown> = {}) => JSON.stringify({
    holdId: 'h-1', txId: 't-1', txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: inMinutes(h.clock, 180),
    from: { lat: -12.97, lon: -38.5 }, rangeKm: 50, ttlSeconds: 30, ...over,
  })
  const error = async (headers: Record<string, string>, body = hold(), method = 'POST', path = '/federation/v1/holds') =>
    (JSON.parse((await rawRequest(port, method, path, { ...JSON_TYPE, ...headers }, body)).body) as { error: { code: string; message: string } }).error

  t.match(await error({}), { code: 'UNAUTHORIZED', message: /^missing bearer token; send Authorization: Bearer <token>, the token your hub has for this hub \(federation\.peers\[\]\.token\)$/ })
  t.match(await error({ authorization: 'Basic abc' }), { code: 'UNAUTHORIZED', message: /^missing bearer token;/ }, 'a header that is not Bearer')
  t.match(await error({ authorization: 'Bearer nobody' }), { code: 'UNAUTHORIZED', message: /^unknown bearer token; your hub's federation\.peers\[\]\.token for this hub must equal this hub's federation\.peers\[\]\.acceptToken for yours$/ })
  t.match(await error(as('feira')), { code: 'IDEMPOTENCY_KEY_MISSING', message: /; send one per operation \(1 to 255 visible ASCII characters\), the same on each retry of it$/ })
  const placed = await rawRequest(port, 'POST', '/federation/v1/holds', { ...JSON_TYPE, ...as('feira'), 'idempotency-key': 'k-1' }, hold())
  t.equal(placed.status, 201, placed.body)
  t.match(await error({ ...as('feira'), 'idempotency-key': 'k-1' }, hold({ rangeKm: 40 })), {
    code: 'IDEMPOTENCY_KEY_REUSED', message: /; a new request needs a new key, and a retry must repeat the method, path and body$/,
  })
  t.match(await error({ ...as(other), 'idempotency-key': 'k-1' }), { code: 'BAD_REQUEST', message: /^hold id h-1 is in use; name the hold with another holdId$/ }, "another peer's hold id")
})
