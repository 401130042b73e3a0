/**
 * What the HTTP server refuses before any route reads the request (a body too
 * large, a body that is not JSON, a URL it cannot route) answers in the
 * hub's error body with its own HTTP status, a code and a message that says
 * what to do, and changes nothing: not even the Idempotency-Key is spent.
 */
import { gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { inMinutes, salvadorAsFeira } from './helpers/federation-hubs.js'
import { rawRequest, type RawResponse } from './helpers/http-raw.js'
import { HTTP_STATUS } from '../protocol/index.js'

const JSON_TYPE = { 'content-type': 'application/json' }

/** Two hubs; `call` goes to salvador as feira. */
async function federation(t: Test) {
  const { h, port, auth } = await salvadorAsFeira(t)
  const call = (method: string, path: string, body: string, headers: Record<string, string> = {}) => rawRequest(port, method, path, { ...auth, ...headers }, body)
  const holdBody = (over: Record<string, unknown> = {}) => ({
    holdId: 'h-1', txId: 't-1', txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: inMinutes(h.clock, 180),
    from: { lat: -12.97, lon: -38.5 }, rangeKm: 50, ttlSeconds: 30, ...over,
  })
  const counts = () => h.hub('salvador').store.reservations.counts(h.clock.now())
  return { h, port, call, holdBody, counts }
}

/** The error body of `r`, checked to be the hub's envelope with the status its code has in HTTP_STATUS. */
function envelope(t: Test, r: RawResponse, label: string): { code: keyof typeof HTTP_STATUS; message: string; details?: Record<string, unknown> } {
  t.match(r.headers['content-type'], /^application\/json/, `${label}: JSON`)
  const body = JSON.parse(r.body) as { error: { code: keyof typeof HTTP_STATUS; message: string; details?: Record<string, unknown> } }
  t.equal(r.status, HTTP_STATUS[body.error.code], `${label}: status ${r.status} is ${body.error.code}'s`)
  return body.error
}

t.test('a body over 64 KiB is 413 PAYLOAD_TOO_LARGE naming the limit in KiB; nothing is booked and the key is not spent', async (t) => {
  const { call, holdBody, counts } = await federation(t)
  const big = JSON.stringify(holdBody({ padding: 'x'.repeat(70 * 1024) }))
  const r = await call('POST', '/federation/v1/holds', big, { ...JSON_TYPE, 'idempotency-key': 'k-1' })
  t.equal(r.status, 413, 'as docs/operator-guide.md "Connection limits" says')
  const error = envelope(t, r, 'too large')
  t.equal(error.code, 'PAYLOAD_TOO_LARGE')
  t.match(error.message, /^body is larger than 64 KiB, the most this route reads; send only the fields/)
  t.same(error.details, { limitBytes: 65536 })
  // Any Content-Type: the limit comes before the body is read.
  const text = await call('DELETE', '/federation/v1/holds/h-1', 'x'.repeat(65 * 1024), { 'content-type': 'text/plain', 'idempotency-key': 'k-2' })
  t.equal(envelope(t, text, 'too large, text/plain').code, 'PAYLOAD_TOO_LARGE')
  t.same(await counts(), { reservations: 0, activeHolds: 0 }, 'nothing booked')
  const placed = await call('POST', '/federation/v1/holds', JSON.stringify(holdBody()), { ...JSON_TYPE, 'idempotency-key': 'k-1' })
  t.equal(placed.status, 201, `the same key with a body that fits places the hold: ${placed.body}`)
})

t.test('a body that is not JSON, or a Content-Type that is no media type, is 415 UNSUPPORTED_MEDIA_TYPE saying to send JSON', async (t) => {
  const { call, counts } = await federation(t)
  const cases: Array<[string, string, Record<string, string>, RegExp]> = [
    ['a form body', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' }, /^body must be JSON sent as Content-Type: application\/json, not application\/x-www-form-urlencoded$/],
    ['a text body', 'hello', { 'content-type': 'text/plain' }, /not text\/plain$/],
    ['a Content-Type that is no media type', 'x', { 'content-type': '///' }, /^Content-Type "\/\/\/" is not a media type; send the body as JSON with Content-Type: application\/json$/],
    ['a long Content-Type', 'x', { 'content-type': `text/${'x'.repeat(1000)}` }, /^body must be JSON sent as Content-Type: application\/json, not text\/x{75}\.\.\.$/],
  ]
  for (const [label, body, headers, message] of cases) {
    const r = await call('POST', '/federation/v1/holds/h-1/confirm', body, { ...headers, 'idempotency-key': `k-${label}` })
    t.equal(r.status, 415, label)
    t.match(envelope(t, r, label), { code: 'UNSUPPORTED_MEDIA_TYPE', message }, label)
  }
  t.same(await counts(), { reservations: 0, activeHolds: 0 })
})

t.test('a path parameter over 200 characters is 400 BAD_REQUEST as a 65-character id is, in the envelope, quoting the path cut short', async (t) => {
  const { call, counts } = await federation(t)
  const long = 'a'.repeat(5000)
  for (const [method, path] of [['POST', `/federation/v1/holds/${long}/confirm`], ['DELETE', `/federation/v1/holds/${long}`], ['GET', `/federation/v1/vehicles/${long}/receipts`]] as const) {
    const r = await call(method, path, '', { 'idempotency-key': 'k-1' })
    const error = envelope(t, r, `${method} with a 5000-character id`)
    t.equal(error.code, 'BAD_REQUEST', `${method}: not fastify's 414`)
    t.match(error.message, /^path "\/federation\/v1\/[a-z/]+a+\.\.\." has a parameter longer than 200 characters; ids in paths are 1 to 64 characters of A-Z, a-z, 0-9, _ and -$/)
    t.ok(r.body.length < 300, `${method}: the path is not echoed whole (${r.body.length} bytes)`)
  }
  const mid = await call('DELETE', `/federation/v1/holds/${'a'.repeat(65)}`, '', { 'idempotency-key': 'k-2' })
  t.equal(envelope(t, mid, 'a 65-character id').code, 'BAD_REQUEST', 'the same code as an id the schema refuses')
  t.same(await counts(), { reservations: 0, activeHolds: 0 })
})

t.test('a URL whose %-escape does not decode is 400 BAD_REQUEST in the envelope; an unknown route is NOT_FOUND quoting its path cut short', async (t) => {
  const { call } = await federation(t)
  const bad = await call('DELETE', '/federation/v1/holds/%zz', '', { 'idempotency-key': 'k-1' })
  t.match(envelope(t, bad, 'bad escape'), { code: 'BAD_REQUEST', message: /^path "\/federation\/v1\/holds\/%zz" is not a valid URL \(a %-escape that does not decode\); percent-encode it/ })
  const health = await call('GET', '/healthz/%E0%A4%A', '')
  t.match(envelope(t, health, 'bad escape outside the federation scope'), { code: 'BAD_REQUEST' })
  const nowhere = await call('GET', `/federation/v1/${'x'.repeat(5000)}`, '')
  t.match(envelope(t, nowhere, 'no route'), { code: 'NOT_FOUND', message: /^no route GET \/federation\/v1\/x+\.\.\.$/ })
  t.ok(nowhere.body.length < 300, `the path is not echoed whole (${nowhere.body.length} bytes)`)
})

t.test('on a federation path the bearer token is checked first, also for a path no route takes (a parameter over 200 characters, a bad %-escape)', async (t) => {
  const { port, call } = await federation(t)
  const long = `/federation/v1/holds/${'a'.repeat(5000)}`
  for (const [label, path] of [['a 5000-character id', long], ['a bad escape', '/federation/v1/holds/%zz']] as const) {
    const none = await rawRequest(port, 'DELETE', path, { 'idempotency-key': 'k-1' }, '')
    t.match(envelope(t, none, `${label}, no token`), { code: 'UNAUTHORIZED', message: /^missing bearer token; send Authorization: Bearer/ })
    const wrong = await rawRequest(port, 'DELETE', path, { authorization: 'Bearer nope', 'idempotency-key': 'k-1' }, '')
    t.match(envelope(t, wrong, `${label}, unknown token`), { code: 'UNAUTHORIZED', message: /^unknown bearer token/ })
    const good = await call('DELETE', path, '', { 'idempotency-key': 'k-1' })
    t.equal(envelope(t, good, `${label}, the peer's token`).code, 'BAD_REQUEST', 'then the path')
  }
  const health = await rawRequest(port, 'GET', '/healthz/%E0%A4%A', {}, '')
  t.equal(envelope(t, health, 'outside the federation, no token').code, 'BAD_REQUEST', 'no token is asked for outside /federation/v1')
})

t.test('a compressed body (Content-Encoding gzip) is 415 UNSUPPORTED_MEDIA_TYPE saying to send it uncompressed, with Accept-Encoding: identity; nothing is booked and the key is not spent', async (t) => {
  const { call, holdBody, counts } = await federation(t)
  const plain = JSON.stringify(holdBody())
  const gz = gzipSync(plain)
  // The bytes as the helper sends strings (the hub refuses before it reads them: only their length matters).
  const refused = await call('POST', '/federation/v1/holds', gz.toString('latin1'), { ...JSON_TYPE, 'content-encoding': 'gzip', 'idempotency-key': 'k-gz' })
  const error = envelope(t, refused, 'gzip body')
  t.equal(error.code, 'UNSUPPORTED_MEDIA_TYPE', 'not BAD_REQUEST "not valid JSON", which would mislead')
  t.match(error.message, /^Content-Encoding "gzip" is not read by this hub; send the body uncompressed, without a Content-Encoding header$/)
  t.equal(refused.headers['accept-encoding'], 'identity', 'RFC 9110 §15.5.16: the codings it takes')
  t.same(await counts(), { reservations: 0, activeHolds: 0 })
  const ok = await call('POST', '/federation/v1/holds', plain, { ...JSON_TYPE, 'content-encoding': 'identity', 'idempotency-key': 'k-gz' })
  t.equal(ok.status, 201, 'the same key, the body uncompressed: placed')
  const none = await call('DELETE', '/federation/v1/holds/h-x', '', { 'content-encoding': 'gzip', 'idempotency-key': 'k-3' })
  t.equal(none.status, 204, 'no body: its Content-Encoding says nothing')
})

t.test('the token is checked first on a federation path spelled with %-escapes the router decodes (/%66ederation/v1/...)', async (t) => {
  const { port, call } = await federation(t)
  const routed = await rawRequest(port, 'DELETE', '/%66ederation/v1/holds/h-1', { 'idempotency-key': 'k-1' }, '')
  t.equal(envelope(t, routed, 'a well-formed path so spelled, no token').code, 'UNAUTHORIZED', 'the router takes it to the federation scope')
  for (const [label, path] of [['a bad escape', '/%66ederation/v1/holds/%zz'], ['a 300-character id', `/%66ederation/v1/holds/${'a'.repeat(300)}`]] as const) {
    const none = await rawRequest(port, 'DELETE', path, { 'idempotency-key': 'k-1' }, '')
    t.equal(envelope(t, none, `${label}, no token`).code, 'UNAUTHORIZED', `${label}: the token first`)
    t.equal(envelope(t, await call('DELETE', path, '', { 'idempotency-key': 'k-1' }), `${label}, the peer's token`).code, 'BAD_REQUEST', 'then the path')
  }
})

t.test('a bad body is reported before a missing Idempotency-Key, and spends no key (docs/federation.md "Order of the checks")', async (t) => {
  const { call, holdBody, counts } = await federation(t)
  const bad = JSON.stringify(holdBody({ rangeKm: 'far' }))
  const noKey = await call('POST', '/federation/v1/holds', bad, JSON_TYPE)
  t.match(envelope(t, noKey, 'bad body, no key'), { code: 'BAD_REQUEST', message: /rangeKm/ })
  const withKey = await call('POST', '/federation/v1/holds', bad, { ...JSON_TYPE, 'idempotency-key': 'k-1' })
  t.match(envelope(t, withKey, 'bad body, a key'), { code: 'BAD_REQUEST' })
  const missing = await call('POST', '/federation/v1/holds', JSON.stringify(holdBody()), JSON_TYPE)
  t.match(envelope(t, missing, 'good body, no key'), { code: 'IDEMPOTENCY_KEY_MISSING' })
  t.same(await counts(), { reservations: 0, activeHolds: 0 })
  const placed = await call('POST', '/federation/v1/holds', JSON.stringify(holdBody()), { ...JSON_TYPE, 'idempotency-key': 'k-1' })
  t.equal(placed.status, 201, `the corrected request under the same key runs: ${placed.body}`)
})
