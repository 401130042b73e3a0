/**
 * The coordinator writes its progress first, so a crash at any step is
 * finished or undone by `recover()` on a new coordinator over the same
 * database; releases that fail are retried until they succeed or the hold's
 * TTL has passed; a Cancel before its Try leaves a tombstone; a repeated
 * step changes nothing.
 */
import t from 'tap'
import { holdIdFor, reservationIdForHold, stepKey } from '../hub/trips/index.js'
import { Hold } from '../protocol/index.js'
import { BAHIA, BAHIA_LINKS, bookingsEverywhere, inMinutes, startFederationHubs, type FederationHarness } from './helpers/federation-hubs.js'
import { waitUntil } from './helpers/net.js'

const FROM = { lat: -12.251, lon: -38.951 }

class SimulatedCrash extends Error {}

async function crashAt(h: FederationHarness, step: 'hold' | 'confirm', hop = 0): Promise<{ tripId: string; times: string[] }> {
  const routeId = (await h.hub('feira').call('route.list', { destination: 'ilheus' })).route.routeId
  const times = [inMinutes(h.clock, 180), inMinutes(h.clock, 300), inMinutes(h.clock, 600)]
  await h.hub('feira').stop()
  const feira = await h.restart('feira', {
    beforeStep: (s) => {
      if (s.step === step && (s.step === 'confirm' || s.hop === hop)) throw new SimulatedCrash(`crash before ${step} ${hop}`)
    },
  })
  const err = await feira.call('route.reserve', { routeId, times, position: FROM, rangeKm: 250 }, 'V1').catch((e: unknown) => e)
  if (!(err instanceof SimulatedCrash)) throw new Error(`expected the simulated crash, got ${String(err)}`)
  const [trip] = await feira.store.trips.listTrips(['trying', 'confirming'])
  if (!trip) throw new Error('no unfinished trip recorded')
  return { tripId: trip.tripId, times }
}

const options = { specs: BAHIA, links: BAHIA_LINKS, tuning: { releaseMinDelayMs: 20, releaseMaxDelayMs: 100, requestTimeoutMs: 5000 } }

t.test('crash after placing the remote holds: a new coordinator on the same database releases them all', async (t) => {
  const h = await startFederationHubs(options)
  t.teardown(() => h.close())
  const { tripId } = await crashAt(h, 'confirm')
  // Feira's own hold is a reservation already: confirmed in the write that marked the trip `confirming` (Store.tripWrites).
  t.same(await bookingsEverywhere(h), { reservations: 1, activeHolds: 2 }, 'a hold at each peer and the reservation here, left by the crash')
  await h.hub('feira').stop()
  const feira = await h.restart('feira')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 }, 'recover() released every hold at once')
  t.match(await feira.store.trips.getTrip(tripId), { state: 'aborted' })
  t.same(await feira.store.trips.listReleases(), [])
  await h.hub('feira').stop()
  await h.restart('feira')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 }, 'a second restart finds nothing to do')
})

t.test('crash in the middle of the try phase: holds placed so far are released, the unsent one is tombstoned', async (t) => {
  const h = await startFederationHubs(options)
  t.teardown(() => h.close())
  const { tripId } = await crashAt(h, 'hold', 2)
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 2 })
  await h.hub('feira').stop()
  const feira = await h.restart('feira')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })

  // Cancel before Try: the hop-2 POST "arrives late" after recovery released its hold id.
  const holdId = holdIdFor('feira', tripId, 1, 2)
  t.match(await h.hub('ilheus').store.trips.getPeerHold(holdId), { state: 'released', peerHubId: 'feira' }, 'a tombstone at ilheus')
  const late = await feira.federation.client
    .placeHold('ilheus', { holdId, txId: tripId, txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: inMinutes(h.clock, 600), from: { lat: -12.97, lon: -38.5 }, rangeKm: 250, ttlSeconds: 30 }, stepKey(tripId, 1, 2, 'hold'))
    .catch((e: unknown) => e)
  t.match(late, { code: 'HOLD_EXPIRED', details: { released: true } }, 'the late Try is refused')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })
})

t.test('crash during confirm: confirmed legs are cancelled too, nothing half-made remains', async (t) => {
  const h = await startFederationHubs(options)
  t.teardown(() => h.close())
  const { tripId } = await crashAt(h, 'confirm')
  // The crash hit after one confirm had already landed at salvador. Feira's own hold became a reservation in the
  // write that marked the trip `confirming` (SQLite, Store.tripWrites): two reservations, ilheus' hold.
  const salvadorHold = holdIdFor('feira', tripId, 1, 1)
  await h.hub('salvador').federation.holds.confirm('feira', salvadorHold)
  t.same(await bookingsEverywhere(h), { reservations: 2, activeHolds: 1 })
  await h.hub('feira').stop()
  await h.restart('feira')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })
  t.equal(await h.hub('salvador').store.reservations.getReservation(reservationIdForHold(salvadorHold)), null)
})

t.test('a release that fails is retried with backoff until the peer is back', async (t) => {
  const h = await startFederationHubs(options)
  t.teardown(() => h.close())
  await crashAt(h, 'confirm')
  await h.hub('salvador').stop()
  await h.hub('feira').stop()
  const feira = await h.restart('feira')
  const queued = await feira.store.trips.listReleases()
  t.same(queued.map((r) => [r.hubId, r.kind]), [['salvador', 'hold'], ['salvador', 'reservation']], 'salvador could not be reached: queued')
  await waitUntil(async () => (await feira.store.trips.listReleases()).some((r) => r.attempts >= 2), 5000, 'retries')
  await h.restart('salvador')
  await waitUntil(async () => (await feira.store.trips.listReleases()).length === 0, 5000, 'the queue to empty')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 })
})

t.test('a release that keeps failing is dropped once the hold has expired by itself', async (t) => {
  const h = await startFederationHubs({ ...options, tuning: { ...options.tuning, releaseMaxDelayMs: 50 } })
  t.teardown(() => h.close())
  await crashAt(h, 'hold', 2)
  await h.hub('salvador').stop()
  await h.hub('feira').stop()
  const feira = await h.restart('feira')
  const [task] = await feira.store.trips.listReleases()
  t.match(task, { hubId: 'salvador', kind: 'hold' })
  t.ok(task?.untilMs !== null && task !== undefined && task.untilMs > h.clock.now(), 'bounded by the TTL')
  h.clock.advanceSeconds(60)
  await waitUntil(async () => (await feira.store.trips.listReleases()).length === 0, 5000, 'the pointless release to be dropped')
  t.equal((await h.hub('salvador').store.reservations.counts(h.clock.now())).activeHolds, 0, 'the hold is gone by its TTL')
})

t.test('a step repeated with the same Idempotency-Key changes nothing', async (t) => {
  const h = await startFederationHubs(options)
  t.teardown(() => h.close())
  const client = h.hub('feira').federation.client
  const req = { holdId: 'hx', txId: 'tx', txStartedAt: '2026-11-24T12:00:00Z', vehicleId: 'V1', at: inMinutes(h.clock, 300), from: { lat: -12.97, lon: -38.5 }, rangeKm: 50, ttlSeconds: 30 }
  const a = await client.placeHold('salvador', req, 'tx.1.1.hold')
  const b = await client.placeHold('salvador', req, 'tx.1.1.hold')
  t.same(Hold.parse(b), a)
  t.equal((await h.hub('salvador').store.reservations.counts(h.clock.now())).activeHolds, 1)
  const c1 = await client.confirmHold('salvador', 'hx', 'tx.1.1.confirm')
  const c2 = await client.confirmHold('salvador', 'hx', 'tx.1.1.confirm')
  t.same(c2, c1)
  await client.cancelReservation('salvador', c1.reservationId, 'tx.1.1.cancel')
  await client.cancelReservation('salvador', c1.reservationId, 'tx.1.1.cancel')
  t.same(await h.hub('salvador').store.reservations.counts(h.clock.now()), { reservations: 0, activeHolds: 0 })
  await t.rejects(client.placeHold('salvador', { ...req, rangeKm: 10 }, 'tx.1.1.hold'), { code: 'IDEMPOTENCY_KEY_REUSED' })
})
