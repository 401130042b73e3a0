/**
 * A request id names one request for 24 hours (docs/protocol.md "Repeated
 * requests"), but what reservation.create and route.reserve make is named
 * after the id and stays: the id sent again after that (a vehicle whose id
 * counter restarted), or sent again for another request once its record was
 * dropped, is refused IDEMPOTENCY_KEY_REUSED instead of being answered what
 * the earlier use made, and books nothing (hub/store/request-id-rules.ts).
 * charge.start's cases are in ./charge-start-once.test.ts.
 *
 * reservation.create over the op path on memory, SQLite and PostgreSQL;
 * route.reserve across three hubs (memory and SQLite).
 */
import t, { type Test } from 'tap'
import { pino } from 'pino'
import { TestClock } from '../hub/clock.js'
import { coreOpHandlers, createHubContext, tripOpHandlers } from '../hub/ops/index.js'
import { idempotentOps, keyedOpsFor } from '../hub/requests/idempotent.js'
import type { Store } from '../hub/store/index.js'
import { OPS, VoltwayError, type HandlerTable, type OpHandler } from '../protocol/index.js'
import { BAHIA, BAHIA_LINKS, bookingsEverywhere, inMinutes, startFederationHubs, type FederationHarness } from './helpers/federation-hubs.js'
import { onEveryStore } from './helpers/store-harnesses.js'
import { HERE, NOW, testConfig } from './helpers/store-hub.js'

const HOUR = 3_600_000
/** The sweeper's retention of request ids (hub/trips/federation.ts `retentionMs`). */
const KEPT_MS = 24 * HOUR

const outcome = (p: Promise<unknown>): Promise<unknown> => p.then((v) => v, (e: unknown) => (e instanceof VoltwayError ? { code: e.code, message: e.message, details: e.details } : e))

/** reservation.create of one hub replica on `store`, under the request-id rules. */
function reservations(store: Store, clock: TestClock) {
  const ctx = createHubContext({ config: testConfig(), store, clock })
  const handlers = idempotentOps(coreOpHandlers(ctx), { store: store.idempotency, clock, logger: pino({ enabled: false }), waitMs: 0, keyedOps: keyedOpsFor(store) })
  const inMin = (minutes: number): string => new Date(clock.now() + minutes * 60_000).toISOString().replace('.000Z', 'Z')
  const create = (requestId: string, a: { at: string; stationId?: string }) =>
    (handlers['reservation.create'] as OpHandler<'reservation.create'>)(OPS['reservation.create'].args.parse({ position: HERE, rangeKm: 50, ...a }), { hubId: 'feira', vehicleId: 'V1', requestId, op: 'reservation.create' })
  const all = () => store.reservations.listVehicleReservations('V1', 0)
  return { create, inMin, all }
}

await onEveryStore(t, (t: Test, name, open) => {
  /** A fresh store of this kind (disposed with `t`), a clock at NOW, and request q1's reservation at NEAR in 3 h. */
  const booked = async (t: Test) => {
    const h = await open()
    t.teardown(() => h.dispose())
    const clock = new TestClock(NOW)
    const r = reservations(h.store, clock)
    const args = { at: r.inMin(180), stationId: 'NEAR' }
    return { h, clock, r, args, first: await r.create('q1', args) }
  }
  t.test(`[${name}] reservation.create with an id first used more than 24 h ago is refused IDEMPOTENCY_KEY_REUSED, not answered that day's reservation, and books nothing`, async (t) => {
    const { h, clock, r, args, first } = await booked(t)
    clock.advance(25 * HOUR)
    await h.store.idempotency.deleteOlderThan(clock.now() - KEPT_MS) // the sweeper's retention
    const again = await outcome(r.create('q1', args))
    t.match(again, { code: 'IDEMPOTENCY_KEY_REUSED', message: /more than 24 hours ago.*new id/ }, 'the same args: not the reservation of yesterday')
    t.notMatch(JSON.stringify(again), new RegExp(first.reservation.reservationId), 'nothing of it')
    const tomorrow = await outcome(r.create('q1', { at: r.inMin(180), stationId: 'NEAR' }))
    t.match(tomorrow, { code: 'IDEMPOTENCY_KEY_REUSED' }, 'a new booking under the old id: refused, not answered the old one')
    t.same((await r.all()).map((x) => x.reservationId), [first.reservation.reservationId], 'nothing booked')
    t.match(await r.create('q2', { at: r.inMin(180), stationId: 'NEAR' }), { reservation: { stationId: 'NEAR' } }, 'a new id books')
  })

  t.test(`[${name}] reservation.create with an id whose record is gone, sent with another station or time, is refused IDEMPOTENCY_KEY_REUSED and books nothing`, async (t) => {
    const { h, clock, r, args, first } = await booked(t)
    await h.store.idempotency.deleteOlderThan(clock.now() + 1) // the id's record dropped (its answer lost)
    clock.advance(60_000)
    t.match(await outcome(r.create('q1', { ...args, stationId: 'MID' })), { code: 'IDEMPOTENCY_KEY_REUSED', message: /reservation\.create \(other args\)/ }, 'another station')
    t.match(await outcome(r.create('q1', { ...args, at: r.inMin(240) })), { code: 'IDEMPOTENCY_KEY_REUSED' }, 'another time')
    t.same((await r.all()).map((x) => x.reservationId), [first.reservation.reservationId], 'nothing booked')
    await h.store.idempotency.deleteOlderThan(clock.now() + 1)
    t.same(await r.create('q1', args), first, 'the same args are a repeat: answered the reservation')
  })
})

const FROM_FEIRA = { lat: -12.251, lon: -38.951 }

/** route.reserve at feira under the request-id rules, over the three-hop route to ilheus. */
async function trips(h: FederationHarness) {
  const feira = h.hub('feira')
  const handlers = idempotentOps(tripOpHandlers({ federation: feira.federation }) as unknown as HandlerTable, { store: feira.store.idempotency, clock: h.clock, logger: pino({ enabled: false }), waitMs: 0 })
  const page = await feira.call('route.list', { destination: 'ilheus' })
  const times = () => [inMinutes(h.clock, 180), inMinutes(h.clock, 300), inMinutes(h.clock, 600)]
  const reserve = (requestId: string, a: { routeId?: string; times: string[] }) =>
    (handlers['route.reserve'] as OpHandler<'route.reserve'>)(OPS['route.reserve'].args.parse({ routeId: page.route.routeId, position: FROM_FEIRA, rangeKm: 250, ...a }), { hubId: 'feira', vehicleId: 'V1', requestId, op: 'route.reserve' })
  const tripsOfV1 = async () => (await feira.store.trips.listVehicleTrips('V1', 10)).map((x) => x.tripId)
  const reservationsOfV1 = async () => {
    let n = 0
    for (const hub of Object.values(h.hubs)) n += (await hub.store.reservations.listVehicleReservations('V1', 0)).length
    return n
  }
  return { feira, reserve, times, tripsOfV1, reservationsOfV1 }
}

for (const storage of ['memory', 'sqlite'] as const) {
  t.test(`[${storage}] route.reserve with an id first used more than 24 h ago is refused IDEMPOTENCY_KEY_REUSED, not answered that day's trip, and books nothing`, async (t) => {
    const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, storage })
    t.teardown(() => h.close())
    const r = await trips(h)
    const times = r.times()
    const { trip } = await r.reserve('q1', { times })
    h.clock.advance(25 * HOUR)
    await r.feira.store.idempotency.deleteOlderThan(h.clock.now() - KEPT_MS) // the sweeper's retention
    const again = await outcome(r.reserve('q1', { times }))
    t.match(again, { code: 'IDEMPOTENCY_KEY_REUSED', message: /more than 24 hours ago.*new id/ }, 'the same args: not the trip of yesterday')
    t.notMatch(JSON.stringify(again), new RegExp(trip.tripId), 'nothing of it')
    t.match(await outcome(r.reserve('q1', { times: r.times() })), { code: 'IDEMPOTENCY_KEY_REUSED' }, 'a new trip under the old id: refused, not answered the old one')
    t.same(await r.tripsOfV1(), [trip.tripId], 'no trip made')
    t.equal(await r.reservationsOfV1(), 3, 'nothing booked anywhere')
    t.match(await bookingsEverywhere(h), { activeHolds: 0 }, 'no hold left')
  })

  t.test(`[${storage}] route.reserve with an id whose record is gone, sent with other times, is refused IDEMPOTENCY_KEY_REUSED and books nothing`, async (t) => {
    const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, storage })
    t.teardown(() => h.close())
    const r = await trips(h)
    const times = r.times()
    const first = await r.reserve('q1', { times })
    await r.feira.store.idempotency.deleteOlderThan(h.clock.now() + 1) // the id's record dropped (its answer lost)
    h.clock.advance(60_000)
    const later = times.map((x) => inMinutes(h.clock, (Date.parse(x) - h.clock.now()) / 60_000 + 60))
    t.match(await outcome(r.reserve('q1', { times: later })), { code: 'IDEMPOTENCY_KEY_REUSED', message: /route\.reserve \(other args\)/ }, 'other times')
    t.match(await outcome(r.reserve('q1', { times: times.slice(0, 2) })), { code: 'IDEMPOTENCY_KEY_REUSED' }, 'fewer times')
    t.same(await r.tripsOfV1(), [first.trip.tripId], 'no trip made')
    t.same(await bookingsEverywhere(h), { reservations: 3, activeHolds: 0 }, 'only the first trip is booked')
    await r.feira.store.idempotency.deleteOlderThan(h.clock.now() + 1)
    t.same(await r.reserve('q1', { times }), first, 'the same args are a repeat: answered the trip')
  })
}
