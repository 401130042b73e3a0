/**
 * No livelock: many vehicles race for the same route; the race ends with as
 * many trips booked as there is room for (wait-die on the trips' ages),
 * never with all of them failing, and no station is booked twice.
 */
import t, { type Test } from 'tap'
import { VoltwayError } from '../protocol/index.js'
import { BAHIA, BAHIA_LINKS, inMinutes, startFederationHubs, type FederationHarness } from './helpers/federation-hubs.js'

const VEHICLES = 20
const FROM = { lat: -12.251, lon: -38.951 }

interface RoundResult {
  booked: number
  reasons: string[]
}

async function round(h: FederationHarness, routeId: string, offsetMin: number, tag: string): Promise<RoundResult> {
  const times = [inMinutes(h.clock, 180 + offsetMin), inMinutes(h.clock, 300 + offsetMin), inMinutes(h.clock, 600 + offsetMin)]
  const feira = h.hub('feira')
  const outcomes = await Promise.allSettled(
    Array.from({ length: VEHICLES }, (_, i) => feira.call('route.reserve', { routeId, times, position: FROM, rangeKm: 250 }, `${tag}-V${i}`)),
  )
  const reasons: string[] = []
  let booked = 0
  for (const o of outcomes) {
    if (o.status === 'fulfilled') booked++
    else {
      const e = o.reason as unknown
      reasons.push(e instanceof VoltwayError && e.code === 'ROUTE_FAILED' ? String(e.details?.reason) : `unexpected: ${String(e)}`)
    }
  }
  return { booked, reasons }
}

async function checkNoDoubleBooking(t: Test, h: FederationHarness, rounds: number): Promise<void> {
  for (const hub of Object.values(h.hubs)) {
    await hub.federation.releaser.drain()
    const c = await hub.store.reservations.counts(h.clock.now())
    t.equal(c.activeHolds, 0, `${hub.hubId}: no hold left`)
    t.equal(c.reservations, 2 * rounds, `${hub.hubId}: both stations booked in every round, nothing more`)
  }
}


for (const storage of ['sqlite', 'memory'] as const) {
  t.test(`[${storage}] ${VEHICLES} vehicles racing for one route (2 stations per hub): exactly 2 trips, every loser told why`, async (t) => {
    const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, storage })
    t.teardown(() => h.close())
    const routeId = (await h.hub('feira').call('route.list', { destination: 'ilheus' })).route.routeId
    const ROUNDS = storage === 'sqlite' ? 15 : 25
    for (let r = 0; r < ROUNDS; r++) {
      const res = await round(h, routeId, r * 1000, `r${r}`)
      t.equal(res.booked, 2, `round ${r}: exactly two trips booked`)
      t.same([...new Set(res.reasons)], ['NO_STATION_AVAILABLE'], `round ${r}: every loser is told there was no station`)
    }
    await checkNoDoubleBooking(t, h, ROUNDS)
    for (const hub of Object.values(h.hubs)) {
      const all = await Promise.all(
        Array.from({ length: ROUNDS * VEHICLES }, (_, i) => hub.store.reservations.listVehicleReservations(`r${Math.floor(i / VEHICLES)}-V${i % VEHICLES}`, 0)),
      )
      const slots = all.flat().map((x) => `${x.stationId}@${x.atMs}`)
      t.equal(new Set(slots).size, slots.length, `${hub.hubId}: no station booked twice at one time`)
    }
  })
}

t.test('racing for different times, every vehicle books (contention without conflict never fails)', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, storage: 'memory' })
  t.teardown(() => h.close())
  const routeId = (await h.hub('feira').call('route.list', { destination: 'ilheus' })).route.routeId
  const results = await Promise.allSettled(
    Array.from({ length: 30 }, (_, i) => {
      const o = i * 300
      return h.hub('feira').call('route.reserve', { routeId, times: [inMinutes(h.clock, 180 + o), inMinutes(h.clock, 300 + o), inMinutes(h.clock, 600 + o)], position: FROM, rangeKm: 250 }, `V${i}`)
    }),
  )
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 30)
})

t.test('two coordinators race from two hubs in opposite directions: no deadlock, room is filled', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, storage: 'memory' })
  t.teardown(() => h.close())
  const there = (await h.hub('feira').call('route.list', { destination: 'ilheus' })).route
  const back = (await h.hub('ilheus').call('route.list', { destination: 'feira' })).route
  t.same(back.hops.map((x) => x.hubId), ['ilheus', 'salvador', 'feira'])
  // The same slot at each hub from both directions: feira@+600, salvador@+300, ilheus@+180 and the reverse.
  const tF = [inMinutes(h.clock, 180), inMinutes(h.clock, 300), inMinutes(h.clock, 420)]
  const tI = [...tF].reverse()
  for (let r = 0; r < 10; r++) {
    const shift = (xs: string[]): string[] => xs.map((x) => new Date(Date.parse(x) + r * 1000 * 60_000).toISOString())
    const calls = Array.from({ length: 16 }, (_, i) =>
      i % 2
        ? h.hub('feira').call('route.reserve', { routeId: there.routeId, times: shift(tF), position: FROM, rangeKm: 250 }, `F${r}-${i}`)
        : h.hub('ilheus').call('route.reserve', { routeId: back.routeId, times: shift(tI), position: { lat: -14.79, lon: -39.04 }, rangeKm: 250 }, `I${r}-${i}`),
    )
    const res = await Promise.allSettled(calls)
    t.equal(res.filter((x) => x.status === 'fulfilled').length, 2, `round ${r}: two trips (two stations per hub)`)
  }
})
