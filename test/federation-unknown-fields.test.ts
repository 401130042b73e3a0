/**
 * Readers ignore fields they do not know (docs/protocol.md "Conventions"), so
 * another vendor's additions never break a federation call: every route,
 * with a body or without, ignores them alike.
 */
import t from 'tap'
import { BAHIA, BAHIA_LINKS, inMinutes, startFederationHubs, token } from './helpers/federation-hubs.js'
import { rawRequest } from './helpers/http-raw.js'
import { roamingPair } from './helpers/roaming.js'

const JSON_TYPE = { 'content-type': 'application/json' }
const VENDOR = { vendorNote: 'from another vendor', ext: { priority: 2 } }

t.test('unknown body fields are ignored on every federation route, those that take no body included', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA.slice(0, 2), links: BAHIA_LINKS.slice(0, 1), storage: 'memory' })
  t.teardown(() => h.close())
  const port = Number(new URL(h.hub('salvador').url).port)
  const auth = { authorization: `Bearer ${token('feira', 'salvador')}` }
  const call = (method: string, path: string, body: unknown, key: string) =>
    rawRequest(port, method, path, { ...auth, ...JSON_TYPE, 'idempotency-key': key }, JSON.stringify(body))
  const hold = (holdId: string, minutes: number) => ({
    holdId, txId: `t-${holdId}`, txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: inMinutes(h.clock, minutes),
    from: { lat: -12.97, lon: -38.5 }, rangeKm: 50, ttlSeconds: 30, ...VENDOR,
  })

  const placed = await call('POST', '/federation/v1/holds', hold('h-1', 180), 'k-1')
  t.equal(placed.status, 201, `POST /holds: ${placed.body}`)
  const confirmed = await call('POST', '/federation/v1/holds/h-1/confirm', VENDOR, 'k-2')
  t.equal(confirmed.status, 200, `POST confirm with unknown fields, as POST /holds takes them: ${confirmed.body}`)
  const again = await call('POST', '/federation/v1/holds/h-1/confirm', {}, 'k-2')
  t.equal(again.status, 200, 'the same key with {} is the same request: the fields are not part of it')
  t.equal(again.headers['idempotent-replayed'], 'true')
  const { reservationId } = JSON.parse(confirmed.body) as { reservationId: string }
  t.equal((await call('DELETE', `/federation/v1/reservations/${reservationId}`, VENDOR, 'k-3')).status, 204, 'DELETE reservation')
  t.equal((await call('POST', '/federation/v1/holds', hold('h-2', 320), 'k-4')).status, 201)
  t.equal((await call('DELETE', '/federation/v1/holds/h-2', VENDOR, 'k-5')).status, 204, 'DELETE hold')
  t.same(await h.hub('salvador').store.reservations.counts(h.clock.now()), { reservations: 0, activeHolds: 0 }, 'every call took effect')

})

t.test('a roaming session start and stop ignore unknown body fields too', async (t) => {
  const p = await roamingPair()
  t.teardown(() => p.close())
  const call = (path: string, body: unknown, key: string) =>
    fetch(`${p.b?.httpUrl}${path}`, { method: 'POST', headers: { authorization: 'Bearer feira-to-salvador', ...JSON_TYPE, 'idempotency-key': key }, body: JSON.stringify(body) })
  const start = await call('/federation/v1/sessions', { vehicleId: 'V1', stationId: 'NOPE', ...VENDOR }, 'k-1')
  t.match(await start.json(), { error: { code: 'NOT_FOUND', details: { stationId: 'NOPE' } } }, 'POST /sessions reads past its unknown fields to the station')
  const stop = await call('/federation/v1/sessions/s-none/stop', VENDOR, 'k-2')
  t.match(await stop.json(), { error: { code: 'NOT_FOUND' } }, 'POST /sessions/{id}/stop too')
})
