/**
 * A trip keeps its lease until its `confirmed` state is written: a store whose
 * trip save and lease release are separate commits (PostgreSQL, the memory
 * store) must not give the lease back first, or another replica's recovery
 * could take a trip still `confirming` and undo what its confirms booked
 * (hub/trips/coordinator.ts #attempt; found by an attack on c56e8fc). Two
 * replicas of feira on one memory store; feira's confirmed save is held for
 * one turn while the other replica runs its recovery.
 */
import t from 'tap'
import { VoltwayError, type OpResult } from '../protocol/index.js'
import type { TripRecord } from '../hub/store/index.js'
import { leaseNames } from '../hub/trips/lease-keeper.js'
import { BAHIA, BAHIA_LINKS, inMinutes, startFederationHubs } from './helpers/federation-hubs.js'
import { freePort } from './helpers/net.js'

t.test('a trip being marked confirmed is still under its lease: another replica\'s recovery leaves it alone, and the vehicle is told it is booked', async (t) => {
  const port = await freePort()
  const h = await startFederationHubs({ specs: BAHIA.slice(0, 2), links: BAHIA_LINKS.slice(0, 1), storage: 'memory', replicaPorts: { feira: [port] }, rules: { minLeadMinutes: 0 } })
  t.teardown(() => h.close())
  const feira = h.hub('feira')
  const other = await h.startReplica('feira', 'r2', port)
  const trips = feira.store.trips
  const save = trips.saveTrip.bind(trips)
  const seen: Array<{ leaseHeld: boolean; recovered: { undone: number; cancelled: number } }> = []
  trips.saveTrip = async (trip: TripRecord, opts) => {
    if (trip.state === 'confirmed') {
      // As a slow UPDATE on a pool connection: one turn, meanwhile the other replica looks for trips to recover.
      await new Promise((r) => setImmediate(r))
      // Taken by the probe only when free, and then lapsed at once (a TTL of 0): the replica can still take it.
      const lease = await feira.store.leases.acquire({ name: leaseNames.trip(trip.tripId), owner: 'probe', nowMs: h.clock.now(), ttlMs: 0 })
      seen.push({ leaseHeld: !lease, recovered: await other.federation.coordinator.recover() })
    }
    return save(trip, opts)
  }
  const { route } = await feira.call('route.list', { destination: 'salvador' })
  const out: OpResult<'route.reserve'> | unknown = await feira
    .call('route.reserve', { routeId: route.routeId, times: [inMinutes(h.clock, 180), inMinutes(h.clock, 240)], position: { lat: -12.251, lon: -38.951 }, rangeKm: 250 })
    .catch((e: unknown) => e)
  t.same(seen.map((s) => s.leaseHeld), [true], 'the trip is still under its lease while its confirmed state is not written')
  t.same(seen.map((s) => s.recovered), [{ undone: 0, cancelled: 0 }], 'no other replica touches a trip being confirmed')
  t.notOk(out instanceof VoltwayError, `booked: ${out instanceof VoltwayError ? out.message : 'yes'}`)
})
