/**
 * A coordinator that outlives its own lease (its process paused, its
 * heartbeats to the database stalled longer than the lease TTL) while a live
 * replica takes the trip over: whichever of the two writes first wins, and
 * the other changes nothing. A vehicle is never told a trip is booked whose
 * reservations the other replica cancelled.
 */
import t from 'tap'
import type { TripRecord } from '../hub/store/index.js'
import { BAHIA, BAHIA_LINKS, bookingsEverywhere, inMinutes, startFederationHubs } from './helpers/federation-hubs.js'
import { freePort } from './helpers/net.js'

const FROM = { lat: -12.251, lon: -38.951 }

t.test('a replica whose lease lapsed while its "confirmed" write was on its way does not answer ok over the trip another replica undid', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, tuning: { requestTimeoutMs: 5000, leaseTtlMs: 15_000 } })
  t.teardown(() => h.close())
  const a = h.hub('feira')
  const b = await h.startReplica('feira', 'r2', await freePort())
  const routeId = (await a.call('route.list', { destination: 'ilheus' })).route.routeId
  const times = [inMinutes(h.clock, 180), inMinutes(h.clock, 300), inMinutes(h.clock, 600)]

  // A's "confirmed" write is held back (its process paused, its statement slow): every confirm has landed by then.
  const trips = a.store.trips
  const save = trips.saveTrip.bind(trips)
  let reached: () => void = () => undefined
  const atConfirmed = new Promise<void>((r) => (reached = r))
  let go: () => void = () => undefined
  const resume = new Promise<void>((r) => (go = r))
  trips.saveTrip = async (trip: TripRecord, opts) => {
    if (trip.state === 'confirmed') {
      reached()
      await resume
    }
    return save(trip, opts)
  }
  // Its heartbeats do not land either: its lease runs out.
  a.federation.leases.stop()

  const answer = a.call('route.reserve', { routeId, times, position: FROM, rangeKm: 250 }, 'V1').then(
    (trip) => ({ ok: true as const, trip }),
    (err: unknown) => ({ ok: false as const, err }),
  )
  await atConfirmed
  t.same(await bookingsEverywhere(h), { reservations: 3, activeHolds: 0 }, 'every hop confirmed, the "confirmed" write not yet made')
  const [trip] = await a.store.trips.listTrips(['confirming'])
  if (!trip) throw new Error('no confirming trip')

  // Past the lease TTL the live replica takes the trip over and undoes it.
  h.clock.advanceSeconds(16)
  t.same(await b.federation.coordinator.recover(), { undone: 1, cancelled: 0 }, 'the live replica undid the trip whose lease lapsed')
  t.same(await bookingsEverywhere(h), { reservations: 0, activeHolds: 0 }, 'its reservations cancelled everywhere')

  go()
  const out = await answer
  const stored = await a.store.trips.getTrip(trip.tripId)
  const booked = await bookingsEverywhere(h)
  t.not(out.ok && booked.reservations === 0, true, 'the vehicle is not told ok for a trip without reservations')
  t.match(out, { ok: false, err: { code: 'ROUTE_FAILED' } }, 'the paused replica, which lost the trip, answers ROUTE_FAILED: nothing is booked')
  t.same([stored?.state, booked.reservations], out.ok ? ['confirmed', 3] : ['aborted', 0], `the stored trip matches the bookings and the answer (answer ok: ${out.ok}, stored ${stored?.state}, ${booked.reservations} reservations)`)
})
