/**
 * Wait-die: who waits, who dies, and why that is fair and live: waits only
 * go from older to younger transactions (no cycles), the oldest is never
 * refused because of a hold, and a restarted trip keeps its age.
 */
import prand from 'pure-rand'
import t from 'tap'
import { decide, isOlder, type TxAge } from '../hub/trips/index.js'
import type { Booking, BookingCandidate } from '../hub/store/index.js'
import { inMinutes, startFederationHubs, type HubSpec } from './helpers/federation-hubs.js'

const S1: BookingCandidate = { stationId: 'S1', position: { lat: 0, lon: 0 } }
const S2: BookingCandidate = { stationId: 'S2', position: { lat: 0, lon: 0 } }
const me: TxAge = { txId: 'tx-m', txStartedAtMs: 1000 }
const hold = (stationId: string, txId: string, txStartedAtMs: number): Booking => ({
  kind: 'hold', id: `h-${txId}`, stationId, vehicleId: 'V', atMs: 0, expiresAtMs: 9e12, txId, txStartedAtMs,
})
const reservation = (stationId: string): Booking => ({ kind: 'reservation', id: `r-${stationId}`, stationId, vehicleId: 'V', atMs: 0 })

t.test('the decision table', async (t) => {
  t.equal(decide(me, [S1], [hold('S1', 'young', 2000)]), 'wait', 'blocked only by a younger hold: wait')
  t.equal(decide(me, [S1], [hold('S1', 'old', 500)]), 'died', 'blocked by an older hold: die')
  t.equal(decide(me, [S1], [reservation('S1')]), 'full', 'blocked by a reservation: no room')
  t.equal(decide(me, [S1, S2], [reservation('S1'), hold('S2', 'young', 2000)]), 'wait', 'one candidate worth waiting for is enough')
  t.equal(decide(me, [S1, S2], [reservation('S1'), hold('S2', 'old', 10)]), 'died', 'an older hold may still go away')
  t.equal(decide(me, [S1], [hold('S1', 'young', 2000), hold('S1', 'old', 10)]), 'died', 'a station with an older hold among its blockers is not waited for')
  t.equal(decide(me, [S1], [hold('S1', 'tx-m', 1000)]), 'wait', "a hold of the same transaction (an earlier attempt being released) is waited for")
  t.equal(decide(me, [S1], [hold('S1', 'tx-a', 1000)]), 'died', 'equal start: the smaller txId is older')
  t.equal(decide(me, [S1], [hold('S1', 'tx-z', 1000)]), 'wait')
  t.equal(decide(me, [S1, S2], [reservation('S1')]), 'wait', 'a candidate free by now: try again')
})

t.test('age is a strict total order: of two distinct transactions exactly one is older', async (t) => {
  let rng = prand.xoroshiro128plus(7)
  const int = (max: number): number => {
    const [v, r] = prand.uniformIntDistribution(0, max, rng)
    rng = r
    return v
  }
  for (let i = 0; i < 2000; i++) {
    const a = { txId: `t${int(5)}`, txStartedAtMs: int(3) }
    const b = { txId: `t${int(5)}`, txStartedAtMs: int(3) }
    const same = a.txId === b.txId && a.txStartedAtMs === b.txStartedAtMs
    t.equal(Number(isOlder(a, b)) + Number(isOlder(b, a)), same ? 0 : 1)
  }
})

t.test('waits only ever go from older to younger, so no cycle of waits can form', async (t) => {
  let rng = prand.xoroshiro128plus(11)
  const int = (max: number): number => {
    const [v, r] = prand.uniformIntDistribution(0, max, rng)
    rng = r
    return v
  }
  let waits = 0
  for (let i = 0; i < 3000; i++) {
    const self = { txId: `t${int(9)}`, txStartedAtMs: int(5) }
    const blockers = Array.from({ length: 1 + int(3) }, () => (int(4) === 0 ? reservation('S1') : hold('S1', `t${int(9)}`, int(5))))
    if (decide(self, [S1], blockers) !== 'wait') continue
    waits++
    for (const b of blockers) {
      t.equal(b.kind, 'hold')
      if (b.kind === 'hold' && b.txId !== self.txId) t.ok(isOlder(self, b), 'the waiter is older than what it waits for')
    }
  }
  t.ok(waits > 100, `${waits} waits checked`)
})

const ONE_STATION: HubSpec[] = [
  { hubId: 'feira', city: 'Feira', position: { lat: -12.26, lon: -38.96 }, stations: [{ stationId: 'FSA-1', position: { lat: -12.25, lon: -38.95 } }] },
  { hubId: 'salvador', city: 'Salvador', position: { lat: -12.97, lon: -38.5 }, stations: [{ stationId: 'SSA-1', position: { lat: -12.97, lon: -38.5 } }] },
]
const LINKS = [{ from: 'feira', to: 'salvador', distanceKm: 108 }]

t.test('a trip refused by an older one restarts with its original age and books once the older one is gone', async (t) => {
  let release: (() => Promise<void>) | null = null
  const attempts: number[] = []
  const h = await startFederationHubs({
    specs: ONE_STATION,
    links: LINKS,
    storage: 'memory',
    tuning: { restartDelayMs: 5, maxAttempts: 3 },
    // The older trip goes away while the younger one restarts (an event, not a sleep).
    beforeStep: async (s) => {
      if (s.step !== 'hold' || s.hop !== 0) return
      attempts.push(s.attempt)
      if (s.attempt === 2 && release) await release()
    },
  })
  t.teardown(() => h.close())
  const routeId = (await h.hub('feira').call('route.list', { destination: 'salvador' })).route.routeId
  const times = [inMinutes(h.clock, 180), inMinutes(h.clock, 300)]
  // An older transaction holds salvador's only station.
  await h.hub('salvador').federation.holds.place('feira', 'older-hold', {
    txId: 'older', txStartedAt: '2026-11-24T11:00:00Z', vehicleId: 'V0', at: times[1] as string, from: { lat: -12.97, lon: -38.5 }, rangeKm: 10, ttlSeconds: 30,
  })
  release = () => h.hub('salvador').federation.holds.release('feira', 'older-hold')
  const started = h.clock.now()
  const { trip } = await h.hub('feira').call('route.reserve', { routeId, times, position: { lat: -12.25, lon: -38.95 }, rangeKm: 250 }, 'V1')
  const rec = await h.hub('feira').store.trips.getTrip(trip.tripId)
  t.same(attempts, [1, 2], 'the first attempt died at salvador, the second booked')
  t.equal(rec?.attempt, 2)
  t.equal(rec?.txStartedAtMs, started, 'the restart kept the age')
  t.same(await h.hub('feira').store.reservations.counts(h.clock.now()), { reservations: 1, activeHolds: 0 }, 'earlier attempts left nothing behind')
})

t.test('the oldest trip is never refused because of a younger one: only for lack of room', async (t) => {
  const h = await startFederationHubs({ specs: ONE_STATION, links: LINKS, storage: 'memory' })
  t.teardown(() => h.close())
  const routeId = (await h.hub('feira').call('route.list', { destination: 'salvador' })).route.routeId
  for (let round = 0; round < 20; round++) {
    const o = round * 1000
    const times = [inMinutes(h.clock, 180 + o), inMinutes(h.clock, 300 + o)]
    // Ten trips, started one millisecond apart (V0 oldest), launched youngest first.
    const launches: Array<() => Promise<unknown>> = []
    for (let i = 0; i < 10; i++) {
      h.clock.advance(1)
      const at = h.clock.now()
      launches.push(() => {
        h.clock.set(at)
        return h.hub('feira').call('route.reserve', { routeId, times, position: { lat: -12.25, lon: -38.95 }, rangeKm: 250 }, `R${round}-V${i}`)
      })
    }
    const results = await Promise.allSettled(launches.reverse().map((go) => go()))
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: the one slot is booked`)
    const oldest = results[results.length - 1]
    if (oldest?.status === 'rejected') t.match(oldest.reason, { details: { reason: 'NO_STATION_AVAILABLE', reasonDetails: { waitDie: 'full' } } }, 'the oldest only loses to a booked slot')
  }
})
