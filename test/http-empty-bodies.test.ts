/**
 * Body-less federation calls are accepted with `Content-Type:
 * application/json` and an empty body or `{}` (many HTTP clients send the
 * header on every request); routes that need a body still validate it.
 */
import t, { type Test } from 'tap'
import { inMinutes, salvadorAsFeira } from './helpers/federation-hubs.js'
import { rawRequest } from './helpers/http-raw.js'
import { HTTP_STATUS } from '../protocol/index.js'

const JSON_TYPE = { 'content-type': 'application/json' }

/** Two hubs; `call` goes to salvador as feira with a fresh Idempotency-Key, `hold` places a hold there. */
async function federation(t: Test) {
  const { h, port, auth } = await salvadorAsFeira(t)
  let n = 0
  const call = (method: string, path: string, body: string, headers: Record<string, string> = JSON_TYPE) =>
    rawRequest(port, method, path, { ...auth, ...headers, 'idempotency-key': `k-${n++}` }, body)
  const hold = (holdId: string) =>
    call('POST', '/federation/v1/holds', JSON.stringify({
      holdId, txId: `t-${holdId}`, txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: inMinutes(h.clock, 180 + 130 * n),
      from: { lat: -12.97, lon: -38.5 }, rangeKm: 50, ttlSeconds: 30,
    }))
  return { h, port, call, hold, next: () => n }
}

t.test('an empty body or {} is accepted wherever a federation route takes no body', async (t) => {
  const { h, call, hold, next } = await federation(t)
  for (const [label, body] of [['an empty body', ''], ['{}', '{}'], ['whitespace', ' \r\n']] as const) {
    const holdId = `h-${next()}`
    t.equal((await hold(holdId)).status, 201, `hold ${holdId} placed`)
    const confirmed = await call('POST', `/federation/v1/holds/${holdId}/confirm`, body)
    t.equal(confirmed.status, 200, `POST confirm with application/json and ${label}: ${confirmed.body}`)
    const reservationId = (JSON.parse(confirmed.body) as { reservationId: string }).reservationId
    t.equal((await call('DELETE', `/federation/v1/reservations/${reservationId}`, body)).status, 204, `DELETE reservation with ${label}`)
    const other = `h-${next()}`
    t.equal((await hold(other)).status, 201)
    t.equal((await call('DELETE', `/federation/v1/holds/${other}`, body)).status, 204, `DELETE hold with ${label}`)
  }
  t.same(await h.hub('salvador').store.reservations.counts(h.clock.now()), { reservations: 0, activeHolds: 0 }, 'every call took effect')

  const extra = await call('DELETE', '/federation/v1/holds/h-x', '{"why":"because"}')
  t.equal(extra.status, 204, 'the fields of a body on a route that takes none are ignored (docs/protocol.md "Conventions")')
  const empty = await call('POST', '/federation/v1/holds', '')
  t.equal(empty.status, 400, 'a route that needs a body still validates it')
  t.match(JSON.parse(empty.body), { error: { code: 'BAD_REQUEST' } })
  const broken = await call('DELETE', '/federation/v1/holds/h-x', '{')
  t.equal(broken.status, 400, 'malformed JSON is still refused')
  const poisoned = await call('POST', '/federation/v1/holds', '{"__proto__":{"x":1}}')
  t.equal(poisoned.status, 400, 'prototype poisoning is still refused')
})

t.test('body-less federation routes take an empty body whatever its Content-Type; a body not sent as JSON is 415 UNSUPPORTED_MEDIA_TYPE, a prototype key 400 BAD_REQUEST, as the code table says', async (t) => {
  const { h, port, call, hold: place, next } = await federation(t)
  const hold = async (holdId: string): Promise<void> => {
    t.equal((await place(holdId)).status, 201, `hold ${holdId} placed`)
  }
  // `curl -X DELETE -d ''` sends application/x-www-form-urlencoded; others send text/plain or nothing.
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', null]) {
    const headers: Record<string, string> = type === null ? {} : { 'content-type': type }
    const holdId = `e-${next()}`
    await hold(holdId)
    const confirmed = await call('POST', `/federation/v1/holds/${holdId}/confirm`, '', headers)
    t.equal(confirmed.status, 200, `POST confirm, empty body, ${type ?? 'no Content-Type'}: ${confirmed.body}`)
    const reservationId = (JSON.parse(confirmed.body) as { reservationId: string }).reservationId
    t.equal((await call('DELETE', `/federation/v1/reservations/${reservationId}`, '', headers)).status, 204, `DELETE reservation, ${type ?? 'none'}`)
    const other = `e-${next()}`
    await hold(other)
    t.equal((await call('DELETE', `/federation/v1/holds/${other}`, '', headers)).status, 204, `DELETE hold, ${type ?? 'none'}`)
  }
  t.same(await h.hub('salvador').store.reservations.counts(h.clock.now()), { reservations: 0, activeHolds: 0 }, 'every call took effect')

  const refused: Array<[string, string, Record<string, string>, 'BAD_REQUEST' | 'UNSUPPORTED_MEDIA_TYPE', RegExp]> = [
    ['a form body', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' }, 'UNSUPPORTED_MEDIA_TYPE', /body must be JSON sent as Content-Type: application\/json, not application\/x-www-form-urlencoded/],
    ['a text body', 'hello', { 'content-type': 'text/plain' }, 'UNSUPPORTED_MEDIA_TYPE', /not text\/plain/],
    ['a Content-Type that is no media type', 'x', { 'content-type': '///' }, 'UNSUPPORTED_MEDIA_TYPE', /is not a media type/],
    ['a prototype key', '{"__proto__":{"a":1}}', JSON_TYPE, 'BAD_REQUEST', /^body has a forbidden key "__proto__" \(prototype keys are refused\)$/],
  ]
  for (const [label, body, headers, code, message] of refused) {
    const r = await call('DELETE', '/federation/v1/holds/h-x', body, headers)
    t.equal(r.status, HTTP_STATUS[code], `${label}: status ${HTTP_STATUS[code]}, as ${code}'s row says`)
    t.match(JSON.parse(r.body), { error: { code, message } }, label)
  }
  const poisonedHold = await call('POST', '/federation/v1/holds', '{"__proto__":{"a":1}}', JSON_TYPE)
  t.match(JSON.parse(poisonedHold.body), { error: { code: 'BAD_REQUEST', message: /forbidden key "__proto__"/ } }, 'POST /holds too')
  const stranger = await rawRequest(port, 'POST', '/federation/v1/holds', { ...JSON_TYPE, 'idempotency-key': 'k-x' }, '{"__proto__":{"a":1}}')
  t.equal(stranger.status, 401, 'without a token the body is never read: the token check comes first')
})

