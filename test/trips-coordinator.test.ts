/**
 * route.reserve across several hubs in ONE process (each a real HTTP server
 * with its own SQLite store): all or nothing, whatever fails.
 */
import t from 'tap'
import { VoltwayError } from '../protocol/index.js'
import {
  BAHIA,
  BAHIA_LINKS,
  bookingsEverywhere,
  deadUrl,
  inMinutes,
  startFederationHubs,
  startHangingServer,
  token,
  type FederationHarness,
} from './helpers/federation-hubs.js'

const FROM_FEIRA = { lat: -12.251, lon: -38.951 }

async function threeHopRoute(h: FederationHarness): Promise<{ routeId: string; times: string[] }> {
  const page = await h.hub('feira').call('route.list', { destination: 'ilheus' })
  t.same(page.route.hops.map((x) => x.hubId), ['feira', 'salvador', 'ilheus'])
  return { routeId: page.route.routeId, times: [inMinutes(h.clock, 180), inMinutes(h.clock, 300), inMinutes(h.clock, 600)] }
}

function routeFailure(err: unknown): Record<string, unknown> {
  if (!(err instanceof VoltwayError) || err.code !== 'ROUTE_FAILED') throw err
  return err.details ?? {}
}

t.test('a trip across three companies books one station per hop, visible at each remote hub', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS })
  t.teardown(() => h.close())
  const { routeId, times } = await threeHopRoute(h)
  const { trip } = await h.hub('feira').call('route.reserve', { routeId, times, position: FROM_FEIRA, rangeKm: 250 }, 'V1')
  t.equal(trip.legs.length, 3)
  t.same(trip.legs.map((l) => l.hubId), ['feira', 'salvador', 'ilheus'])
  t.same(trip.legs.map((l) => l.stationId), ['FSA-1', 'SSA-1', 'IOS-1'], 'the nearest free station at each hop')
  t.same(trip.legs.map((l) => l.at), times)
  for (const leg of trip.legs) {
    const there = await h.hub(leg.hubId).store.reservations.listVehicleReservations('V1', 0)
    t.same(there.map((r) => [r.reservationId, r.stationId]), [[leg.reservationId, leg.stationId]], `booked at ${leg.hubId}`)
  }
  t.same(await bookingsEverywhere(h), { reservations: 3, activeHolds: 0 }, 'no hold is left behind')
})

t.test('trip.cancel releases every leg, only for the vehicle that owns the trip', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS })
  t.teardown(() => h.close())
  const { routeId, times } = await threeHopRoute(h)
  const { trip } = await h.hub('feira').call('route.reserve', { routeId, times, position: FROM_FEIRA, rangeKm: 250 }, 'V1')
  await t.rejects(h.hub('feira').call('trip.cancel', { tripId: trip.tripId }, 'V2'), { code: 'NOT_FOUND' }, "another vehicle's trip is not found")
  await t.rejects(h.hub('feira').call('trip.cancel', { tripId: 't-nope' }, 'V1'), { code: 'NOT_FOUND' })
  t.same(await h.hub('feira').call('trip.cancel', { tripId: trip.tripId }, 'V1'), { cancelled: 3 })
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })
  t.same(await h.hub('feira').call('trip.cancel', { tripId: trip.tripId }, 'V1'), { cancelled: 0 }, 'cancelling again changes nothing')
})

t.test('a hop out of range ends in ROUTE_FAILED with nothing booked anywhere', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS })
  t.teardown(() => h.close())
  const { routeId, times } = await threeHopRoute(h)
  const err = await h.hub('feira').call('route.reserve', { routeId, times, position: FROM_FEIRA, rangeKm: 150 }, 'V1').catch((e: unknown) => e)
  t.match(routeFailure(err), { failedHop: 2, reason: 'OUT_OF_RANGE', rolledBack: true, hubId: 'ilheus' })
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })
})

t.test('a full hop ends in ROUTE_FAILED with nothing booked anywhere', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS })
  t.teardown(() => h.close())
  const { routeId, times } = await threeHopRoute(h)
  const ilheus = h.hub('ilheus')
  for (const s of ['IOS-1', 'IOS-2']) {
    const r = await ilheus.store.reservations.createReservation({
      reservationId: `local-${s}`, vehicleId: 'LOCAL', atMs: Date.parse(times[2] as string), windowMs: 7_200_000, nowMs: h.clock.now(),
      candidates: [{ stationId: s, position: { lat: -14.79, lon: -39.04 } }],
    })
    t.ok(r.ok)
  }
  const err = await h.hub('feira').call('route.reserve', { routeId, times, position: FROM_FEIRA, rangeKm: 250 }, 'V1').catch((e: unknown) => e)
  t.match(routeFailure(err), { failedHop: 2, reason: 'NO_STATION_AVAILABLE', rolledBack: true, reasonDetails: { waitDie: 'full' } })
  t.same(await bookingsEverywhere(h), { reservations: 2, activeHolds: 0 }, 'only the two local bookings remain')
})

t.test('a dead peer ends in ROUTE_FAILED (PEER_UNAVAILABLE) with nothing booked anywhere', async (t) => {
  const url = await deadUrl()
  const h = await startFederationHubs({
    specs: BAHIA,
    links: [...BAHIA_LINKS, { from: 'salvador', to: 'morto', distanceKm: 50 }],
    fakePeers: [{ hubId: 'morto', url }],
    tuning: { requestTimeoutMs: 5000 },
  })
  t.teardown(() => h.close())
  const routes = await h.hub('feira').call('route.list', { destination: 'morto' }).catch((e: unknown) => e)
  t.match(routes, { code: 'PEER_UNAVAILABLE' }, 'a route through a hub never heard from cannot be described')
  const routeId = h.hub('feira').federation.catalog.routesTo('morto')[0]?.routeId as string
  const started = Date.now()
  const err = await h.hub('feira')
    .call('route.reserve', { routeId, times: [inMinutes(h.clock, 180), inMinutes(h.clock, 300), inMinutes(h.clock, 400)], position: FROM_FEIRA, rangeKm: 250 })
    .catch((e: unknown) => e)
  t.match(routeFailure(err), { failedHop: 2, reason: 'PEER_UNAVAILABLE', rolledBack: true, hubId: 'morto' })
  t.ok(Date.now() - started < 3000, 'fails within a few retries, not a long timeout')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })
  await h.hub('feira').federation.releaser.close()
})

t.test('a peer that accepts the connection but never answers: ROUTE_FAILED quickly, nothing booked', async (t) => {
  const hang = await startHangingServer()
  const h = await startFederationHubs({
    specs: BAHIA,
    links: [...BAHIA_LINKS, { from: 'salvador', to: 'lento', distanceKm: 50 }],
    fakePeers: [{ hubId: 'lento', url: hang.url }],
    tuning: { requestTimeoutMs: 300, maxHoldWaitMs: 200 },
  })
  t.teardown(async () => {
    await h.close()
    await hang.close()
  })
  const routeId = h.hub('feira').federation.catalog.routesTo('lento')[0]?.routeId as string
  const started = Date.now()
  const err = await h.hub('feira')
    .call('route.reserve', { routeId, times: [inMinutes(h.clock, 180), inMinutes(h.clock, 300), inMinutes(h.clock, 400)], position: FROM_FEIRA, rangeKm: 250 })
    .catch((e: unknown) => e)
  const elapsed = Date.now() - started
  t.match(routeFailure(err), { failedHop: 2, reason: 'PEER_UNAVAILABLE', rolledBack: true, hubId: 'lento' })
  t.ok(elapsed < 3000, `failed in ${elapsed} ms (step deadline 500 ms, then the undo)`)
  t.ok(hang.connections() >= 1, 'the hanging peer was really asked')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })
  const queued = await h.hub('feira').store.trips.listReleases()
  t.ok(queued.every((r) => r.hubId === 'lento' && r.untilMs !== null), 'only the hung hop is left to the release queue, until its TTL')
})

t.test('times must match the hops; unknown routes are NOT_FOUND', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, storage: 'memory' })
  t.teardown(() => h.close())
  const { routeId, times } = await threeHopRoute(h)
  await t.rejects(h.hub('feira').call('route.reserve', { routeId, times: times.slice(0, 2), position: FROM_FEIRA, rangeKm: 250 }), {
    code: 'BAD_REQUEST',
    details: { hops: 3, times: 2 },
  })
  await t.rejects(h.hub('feira').call('route.reserve', { routeId: 'rt_unknown', times, position: FROM_FEIRA, rangeKm: 250 }), { code: 'NOT_FOUND' })
  const tooSoon = await h.hub('feira').call('route.reserve', { routeId, times: [inMinutes(h.clock, 60), times[1] as string, times[2] as string], position: FROM_FEIRA, rangeKm: 250 }).catch((e: unknown) => e)
  t.match(routeFailure(tooSoon), { failedHop: 0, reason: 'TOO_SOON' })
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })
})

t.test('a hub answers 401 to a peer calling without a token or with a wrong one, and books nothing', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, storage: 'memory' })
  t.teardown(() => h.close())
  const url = h.hub('salvador').url
  const body = JSON.stringify({ txId: 'tx', txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: inMinutes(h.clock, 300), from: { lat: -12.97, lon: -38.5 }, rangeKm: 50, ttlSeconds: 30 })
  for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token('salvador', 'feira')}`]) {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': 'k' }
    if (authorization) headers.authorization = authorization
    const res = await fetch(`${url}/federation/v1/holds`, { method: 'POST', headers, body })
    t.equal(res.status, 401, `authorization: ${authorization ?? 'none'}`)
    t.match(await res.json(), { error: { code: 'UNAUTHORIZED' } })
  }
  const ok = await fetch(`${url}/federation/v1/holds`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k', authorization: `Bearer ${token('feira', 'salvador')}` }, body })
  t.equal(ok.status, 201, 'the right token is accepted')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 1 }, 'only the authorised request booked')
})

t.test('a peer that refuses the hold of a vehicle at its limit fails the trip with ROUTE_FAILED, reason RESERVATION_LIMIT; a vehicle of that hub with the same id is not counted with it', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, rules: { maxReservationsPerVehicle: 1 } })
  t.teardown(() => h.close())
  const { routeId, times } = await threeHopRoute(h)
  const salvador = h.hub('salvador')
  // Feira's V1 already has a live hold at Salvador (placed for another trip, not yet confirmed): the hold and its ledger entry.
  const earlierAt = Date.parse(times[1] as string) + 86_400_000
  t.ok((await salvador.store.reservations.placeHold({
    holdId: 'h-earlier', vehicleId: 'V1', atMs: earlierAt, candidates: [{ stationId: 'SSA-2', position: { lat: -12.97, lon: -38.5 } }],
    windowMs: 7_200_000, nowMs: h.clock.now(), expiresAtMs: h.clock.now() + 60_000, txId: 'tx-earlier', txStartedAtMs: h.clock.now(),
  })).ok)
  t.equal(await salvador.store.trips.recordPeerHold({
    holdId: 'h-earlier', peerHubId: 'feira', txId: 'tx-earlier', vehicleId: 'V1', stationId: 'SSA-2',
    position: { lat: -12.97, lon: -38.5 }, atMs: earlierAt, expiresAtMs: h.clock.now() + 60_000, nowMs: h.clock.now(),
  }), null)
  const err = await h.hub('feira').call('route.reserve', { routeId, times, position: FROM_FEIRA, rangeKm: 250 }, 'V1').catch((e: unknown) => e)
  t.match(routeFailure(err), { failedHop: 1, reason: 'RESERVATION_LIMIT', rolledBack: true, hubId: 'salvador', reasonDetails: { limit: 1, live: 1 } })
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 1 }, 'nothing is booked anywhere but the earlier hold')
  const own = await salvador.call('route.list', { destination: 'ilheus' }, 'V1')
  t.ok(own.route.hops.length > 0)
  const mine = await salvador.call('route.reserve', { routeId: own.route.routeId, times: own.route.hops.map((_, i) => inMinutes(h.clock, 180 + 240 * i)), position: { lat: -12.97, lon: -38.5 }, rangeKm: 250 }, 'V1')
  t.equal(mine.trip.legs[0]?.hubId, 'salvador', "Salvador's own V1 books there: feira's V1 is counted apart")
})

t.test('a hop beyond the horizon of its hub fails the trip with ROUTE_FAILED, reason TOO_FAR_AHEAD', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, rules: { maxAdvanceDays: 1 } })
  t.teardown(() => h.close())
  const { routeId, times } = await threeHopRoute(h)
  const late = [times[0] as string, times[1] as string, inMinutes(h.clock, 24 * 60 + 1)]
  const err = await h.hub('feira').call('route.reserve', { routeId, times: late, position: FROM_FEIRA, rangeKm: 250 }, 'V1').catch((e: unknown) => e)
  t.match(routeFailure(err), { failedHop: 2, reason: 'TOO_FAR_AHEAD', hubId: 'ilheus', reasonDetails: { maxAdvanceDays: 1 } })
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })
})
