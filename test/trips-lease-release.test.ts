/**
 * A trip's lease is given back without waiting (hub/trips/coordinator.ts
 * #leased, LeaseKeeper): the release must still reach the database before
 * the replica's store closes, and two workers of one trip in one process must
 * never share its lease. Two replicas of one hub (feira, a one-hop route to
 * itself) on one PostgreSQL schema or one SQLite file, each with its own
 * connections, as two processes have.
 */
import t from 'tap'
import { pino } from 'pino'
import { TestClock } from '../hub/clock.js'
import { createFederation, type Federation } from '../hub/trips/index.js'
import { tripOpHandlers } from '../hub/ops/index.js'
import { idempotentOps } from '../hub/requests/idempotent.js'
import { StationRegistry } from '../hub/stations/index.js'
import type { Store } from '../hub/store/index.js'
import { OPS, type HandlerTable, type OpHandler, type OpName, type OpArgsInput, type OpResult } from '../protocol/index.js'
import { BAHIA, inMinutes, specConfig } from './helpers/federation-hubs.js'
import { sharedStoreKinds } from './helpers/store-harnesses.js'

const FEIRA = BAHIA[0] as (typeof BAHIA)[number]
const FROM = { lat: -12.251, lon: -38.951 }

interface Replica {
  name: string
  store: Store
  federation: Federation
  warnings: string[]
  call<O extends OpName>(op: O, args: OpArgsInput<O>, requestId: string, vehicleId?: string): Promise<OpResult<O>>
}

function replica(name: string, store: Store, clock: TestClock): Replica {
  const config = specConfig(FEIRA, { rules: { minLeadMinutes: 0 } })
  const warnings: string[] = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(String(JSON.parse(line).msg)) })
  const stations = new StationRegistry({ hubId: FEIRA.hubId, currency: 'BRL', stations: config.stations, clock })
  const federation = createFederation({ config, store, clock, logger, stations, replica: name })
  const handlers: HandlerTable = idempotentOps(tripOpHandlers({ federation }), { store: store.idempotency, clock, logger })
  return {
    name,
    store,
    federation,
    warnings,
    async call(op, args, requestId, vehicleId = 'V1') {
      const handler = handlers[op] as OpHandler<typeof op>
      const parsed = OPS[op].args.parse(args) as Parameters<OpHandler<typeof op>>[0]
      return handler(parsed, { hubId: FEIRA.hubId, vehicleId, requestId, op })
    },
  }
}


const kinds = await sharedStoreKinds(['postgres', 'sqlite'])

for (const k of kinds) {
  t.test(`[${k.kind}] a replica that stops right after its coordinator answered has given the trip's lease back: another replica cancels the trip at once`, { skip: k.skip }, async (t) => {
    const open = await k.setup(t)
    const clock = new TestClock('2026-11-24T12:00:00Z')
    const a = replica('r1', await open(), clock)
    const b = replica('r2', await open(), clock)
    await a.federation.start()
    await b.federation.start()
    t.teardown(() => b.federation.close())
    const routeId = (await a.call('route.list', { destination: 'feira' }, 'list')).route.routeId
    const args = OPS['route.reserve'].args.parse({ routeId, times: [inMinutes(clock, 180)], position: FROM, rangeKm: 250 })
    // Straight to the coordinator: no request answer is written after it, to carry the release in its commit.
    const trip = await a.federation.coordinator.reserve('V1', args, { tripId: 't-stop-1' })
    // The hub's order at shutdown: the federation, then the store.
    await a.federation.close()
    await a.store.close()
    t.same(a.warnings, [], 'nothing logged')
    const { cancelled } = await b.call('trip.cancel', { tripId: trip.tripId }, 'can-1')
    t.equal(cancelled, 1, "B cancelled the trip A booked, not refused by A's lease")
    t.match(await b.store.trips.getTrip(trip.tripId), { state: 'cancelled' })
  })

  t.test(`[${k.kind}] a replica that recovers a trip at start and stops at once leaves no lease behind`, { skip: k.skip }, async (t) => {
    const open = await k.setup(t)
    const clock = new TestClock('2026-11-24T12:00:00Z')
    const first = replica('r1', await open(), clock)
    await first.federation.start()
    const routeId = (await first.call('route.list', { destination: 'feira' }, 'list')).route.routeId
    const { trip } = await first.call('route.reserve', { routeId, times: [inMinutes(clock, 180)], position: FROM, rangeKm: 250 }, 'res-1')
    // A cancel that died after writing `cancelling`: left for recovery.
    const stored = await first.store.trips.getTrip(trip.tripId)
    if (!stored) throw new Error('no trip')
    t.ok(await first.store.trips.saveTrip({ ...stored, state: 'cancelling', updatedAtMs: clock.now() }, { fromStates: ['confirmed'] }))
    await first.federation.close()
    await first.store.close()
    const again = replica('r1', await open(), clock)
    await again.federation.start()
    t.same(await again.federation.recovered(), { undone: 0, cancelled: 1 })
    await again.federation.close()
    await again.store.close()
    t.same(again.warnings, [], 'nothing logged')
    const probe = await open()
    t.teardown(() => probe.close())
    t.equal(await probe.leases.acquire({ name: `trip:${trip.tripId}`, owner: 'probe', nowMs: clock.now(), ttlMs: 1000 }), true, 'the trip lease was given back')
  })

  t.test(`[${k.kind}] two reserves of one trip id at once in one process: one books, the other is told IDEMPOTENCY_IN_PROGRESS`, { skip: k.skip }, async (t) => {
    const open = await k.setup(t)
    const clock = new TestClock('2026-11-24T12:00:00Z')
    const a = replica('r1', await open(), clock)
    await a.federation.start()
    t.teardown(() => a.federation.close())
    const routeId = (await a.call('route.list', { destination: 'feira' }, 'list')).route.routeId
    const args = OPS['route.reserve'].args.parse({ routeId, times: [inMinutes(clock, 180)], position: FROM, rangeKm: 250 })
    const both = await Promise.allSettled([0, 1].map(() => a.federation.coordinator.reserve('V1', args, { tripId: 't-twice' })))
    t.equal(both.filter((o) => o.status === 'fulfilled').length, 1, 'one booked')
    const other = both.find((o) => o.status === 'rejected') as PromiseRejectedResult | undefined
    t.equal((other?.reason as { code?: string } | undefined)?.code, 'IDEMPOTENCY_IN_PROGRESS', `the other: ${String(other?.reason)}`)
    t.equal((await a.store.reservations.counts(clock.now())).reservations, 1)
  })
}
