/**
 * route.reserve's request id in the trip's own writes (SQLite,
 * Store.tripWrites; hub/requests/idempotent.ts keyedOps): the first write
 * claims the id, takes the trip's lease and writes the trip; the write that
 * marks it confirmed stores the answer. Every rule of "Repeated requests"
 * (docs/protocol.md) holds as on the claim-first path. Two hubs (feira and
 * salvador, a two-hop trip) with their federation servers on loopback; feira's
 * trip ops wrapped by the request-id layer as startHub wraps them.
 */
import t from 'tap'
import type { Test } from 'tap'
import { pino } from 'pino'
import { idempotentOps, keyedOpsFor, requestFingerprint } from '../hub/requests/idempotent.js'
import { tripOpHandlers } from '../hub/ops/index.js'
import { KeyHeld, KeyedCall, SqliteStore, StoreError, type TripRecord } from '../hub/store/index.js'
import { WriteBatcher } from '../hub/store/sqlite/write-batcher.js'
import { OPS, VoltwayError, type HandlerTable, type OpHandler, type OpName, type OpArgsInput, type OpResult } from '../protocol/index.js'
import type { CoordinatorStep } from '../hub/trips/coordinator.js'
import { BAHIA, BAHIA_LINKS, inMinutes, startFederationHubs, type FederationHarness } from './helpers/federation-hubs.js'

const FROM = { lat: -12.251, lon: -38.951 }

interface Feira {
  h: FederationHarness
  store: SqliteStore
  call<O extends OpName>(op: O, args: OpArgsInput<O>, requestId: string): Promise<OpResult<O>>
}

async function feira(t: Test, o: { beforeStep?: (s: CoordinatorStep) => void; claimFirst?: boolean } = {}): Promise<Feira> {
  const h = await startFederationHubs({
    specs: BAHIA.slice(0, 2),
    links: BAHIA_LINKS.slice(0, 1),
    rules: { minLeadMinutes: 0 },
    beforeStep: (s) => o.beforeStep?.(s),
  })
  t.teardown(() => h.close())
  const hub = h.hub('feira')
  const store = hub.store as SqliteStore
  const handlers: HandlerTable = idempotentOps(tripOpHandlers({ federation: hub.federation }), {
    store: store.idempotency,
    clock: h.clock,
    logger: pino({ enabled: false }),
    waitMs: 0,
    keyedOps: o.claimFirst ? new Set() : keyedOpsFor(store),
  })
  return {
    h,
    store,
    call(op, args, requestId) {
      const parsed = OPS[op].args.parse(args) as Parameters<OpHandler<typeof op>>[0]
      return (handlers[op] as OpHandler<typeof op>)(parsed, { hubId: 'feira', vehicleId: 'V1', requestId, op })
    },
  }
}

const commits = (store: SqliteStore): number => WriteBatcher.for(store.db).commits
const count = (store: SqliteStore, sql: string): number => (store.db.prepare(sql).get() as { n: number }).n
const keyRow = (store: SqliteStore, key: string) =>
  store.db.prepare('SELECT state, status, body, owner FROM idempotency_keys WHERE scope = ? AND key = ?').get('vehicle:V1', key) as
    | { state: string; status: number | null; body: string | null; owner: string }
    | undefined
const codeOf = (e: unknown): string | undefined => (e instanceof VoltwayError ? e.code : undefined)

async function reserveArgs(f: Feira): Promise<OpArgsInput<'route.reserve'>> {
  const { route } = await f.call('route.list', { destination: 'salvador' }, 'list')
  return { routeId: route.routeId, times: [inMinutes(f.h.clock, 180), inMinutes(f.h.clock, 240)], position: FROM, rangeKm: 250 }
}

/** Group commits at feira for one two-hop trip, the lease given back included. */
async function tripCommits(f: Feira, requestId: string): Promise<{ commits: number; trip: OpResult<'route.reserve'>['trip'] }> {
  const args = await reserveArgs(f)
  const before = commits(f.store)
  const { trip } = await f.call('route.reserve', args, requestId)
  await f.h.hub('feira').federation.leases.settled()
  return { commits: commits(f.store) - before, trip }
}

t.test('on SQLite route.reserve runs keyed: its request id is claimed in the trip\'s first write and answered in the write that confirms it', async (t) => {
  const f = await feira(t)
  t.ok(keyedOpsFor(f.store).has('route.reserve'), 'route.reserve is a keyed op where the store has tripWrites')
  const args = await reserveArgs(f)
  const { commits: n, trip } = await tripCommits(f, 'trip-1')
  // The trip with its lease, its claim and hop 0's hold; confirming with that hold confirmed; confirmed with the answer and
  // the lease given back. The claim-first path (below) takes one more: the claim.
  t.equal(n, 3, 'three commits at the coordinating hub')
  t.equal(trip.legs.length, 2)
  const row = keyRow(f.store, 'trip-1')
  t.equal(row?.state, 'done', 'the request id is answered')
  t.equal(row?.status, 200)
  t.same(JSON.parse(row?.body ?? 'null'), { trip }, 'the stored answer is the answer the vehicle got')
  t.equal(count(f.store, "SELECT count(*) AS n FROM leases WHERE name LIKE 'trip:%'"), 0, 'the trip\'s lease was given back')
  const again = await f.call('route.reserve', args, 'trip-1')
  t.same(again, { trip }, 'the repeat is answered the stored answer')
  t.equal(count(f.store, 'SELECT count(*) AS n FROM trips'), 1, 'booked once')
})

t.test('claimed first (the id found held, then claimed): the same trip in four commits, answered alike', async (t) => {
  const f = await feira(t, { claimFirst: true })
  const { commits: n, trip } = await tripCommits(f, 'trip-1')
  // The claim in a commit of its own; the trip's writes check the claim is still the run's, the last stores the answer.
  t.equal(n, 4, 'the claim in a commit of its own')
  t.same(JSON.parse(keyRow(f.store, 'trip-1')?.body ?? 'null'), { trip })
  t.equal(count(f.store, "SELECT count(*) AS n FROM leases WHERE name LIKE 'trip:%'"), 0, 'the trip\'s lease was given back')
})

t.test('a route.reserve the route refuses writes no trip and takes no lease; its refusal is the id\'s kept answer', async (t) => {
  const f = await feira(t)
  const args = await reserveArgs(f)
  const wrongTimes = await f.call('route.reserve', { ...args, times: [inMinutes(f.h.clock, 180)] }, 'bad-times').catch((e: unknown) => e)
  t.equal(codeOf(wrongTimes), 'BAD_REQUEST', 'one time for two hops')
  const unknown = await f.call('route.reserve', { ...args, routeId: 'r-nowhere' }, 'bad-route').catch((e: unknown) => e)
  t.equal(codeOf(unknown), 'NOT_FOUND')
  t.equal(count(f.store, 'SELECT count(*) AS n FROM trips'), 0, 'no trip written')
  t.equal(count(f.store, 'SELECT count(*) AS n FROM leases'), 0, 'no lease taken')
  t.equal(keyRow(f.store, 'bad-route')?.state, 'done', 'the refusal is kept for the id')
  t.equal(codeOf(await f.call('route.reserve', { ...args, routeId: 'r-nowhere' }, 'bad-route').catch((e: unknown) => e)), 'NOT_FOUND', 'its repeat gets the same refusal')
})

t.test('a request id another run holds: the keyed run\'s first write writes no trip and takes no lease, and the run is answered as a repeat', async (t) => {
  const f = await feira(t)
  const args = await reserveArgs(f)
  const held = (key: string, fingerprint: string) =>
    f.store.idempotency.claim({ scope: 'vehicle:V1', key, fingerprint, nowMs: f.h.clock.now(), leaseMs: 60_000, owner: 'another-run' })
  // Claimed first by a run on another replica, still running: for another request, then for this one.
  t.equal((await held('other-request', 'another-fingerprint')).state, 'claimed')
  t.equal(codeOf(await f.call('route.reserve', args, 'other-request').catch((e: unknown) => e)), 'IDEMPOTENCY_KEY_REUSED', 'the id is another request\'s')
  t.equal((await held('same-request', requestFingerprint('route.reserve', OPS['route.reserve'].args.parse(args)))).state, 'claimed')
  t.equal(codeOf(await f.call('route.reserve', args, 'same-request').catch((e: unknown) => e)), 'IDEMPOTENCY_IN_PROGRESS', 'a live run holds it: ask again later')
  t.equal(count(f.store, 'SELECT count(*) AS n FROM trips'), 0, 'no trip written')
  t.equal(count(f.store, 'SELECT count(*) AS n FROM leases'), 0, 'no lease taken')
  t.equal(count(f.store, 'SELECT count(*) AS n FROM holds'), 0, 'nothing held')
})

t.test('a run whose claim was taken before its last write still marks the trip confirmed, stores no answer, and answers what the id holds', async (t) => {
  let f: Feira | null = null
  f = await feira(t, {
    beforeStep: (s) => {
      // The run stalled a whole claim lease and another run took the id (its owner is not this run's).
      if (s.step === 'confirm') f?.store.db.prepare("UPDATE idempotency_keys SET owner = 'another-run' WHERE key = 'taken'").run()
    },
  })
  const args = await reserveArgs(f)
  const out = await f.call('route.reserve', args, 'taken').catch((e: unknown) => e)
  t.equal(codeOf(out), 'IDEMPOTENCY_IN_PROGRESS', 'answered as a repeat: the other run has not answered yet')
  const trips = f.store.db.prepare('SELECT state FROM trips').all() as Array<{ state: string }>
  t.same(trips, [{ state: 'confirmed' }], 'the trip the peers confirmed is recorded confirmed, never left to be undone')
  const row = keyRow(f.store, 'taken')
  t.equal(row?.state, 'running', 'the id is still the other run\'s')
  t.equal(row?.body, null, 'no answer stored by the run that lost it')
})

t.test('the store\'s trip writes: a lease a live replica holds writes no trip; a duplicate trip rolls the claim and the lease back with it', async (t) => {
  const f = await feira(t)
  const tw = f.store.tripWrites
  const nowMs = f.h.clock.now()
  const trip: TripRecord = { tripId: 't-x', vehicleId: 'V1', routeId: 'r', txStartedAtMs: nowMs, attempt: 1, state: 'trying', legs: [], failure: null, createdAtMs: nowMs, updatedAtMs: nowMs }
  t.equal(await f.store.leases.acquire({ name: 'trip:t-x', owner: 'other', nowMs, ttlMs: 60_000 }), true)
  t.same(await tw.createLeasedTrip(trip, { name: 'trip:t-x', owner: 'me', nowMs, ttlMs: 60_000 }), { leased: false, hold: null }, 'refused: the lease is another live replica\'s')
  t.equal(await f.store.trips.getTrip('t-x'), null, 'and the trip is not written')
  t.same(await tw.createLeasedTrip(trip, { name: 'trip:t-x', owner: 'me', nowMs: nowMs + 60_000, ttlMs: 60_000 }), { leased: true, hold: null }, 'a lapsed lease is taken')
  t.match(await f.store.trips.getTrip('t-x'), { state: 'trying' })

  const call = new KeyedCall({ scope: 'vehicle:V1', key: 'dup', fingerprint: 'f', nowMs, leaseMs: 60_000, owner: 'me' })
  const dup = await tw.createLeasedTrip(trip, { name: 'trip:t-x', owner: 'me2', nowMs: nowMs + 200_000, ttlMs: 60_000 }, call).catch((e: unknown) => e)
  t.ok(dup instanceof StoreError && dup.code === 'DUPLICATE_ID', 'a trip id that exists: DUPLICATE_ID')
  t.equal(keyRow(f.store, 'dup'), undefined, 'the claim rolled back with the write')
  t.equal(call.claim, null, 'and the call holds no claim')
  t.match(f.store.db.prepare("SELECT owner FROM leases WHERE name = 'trip:t-x'").get(), { owner: 'me' }, 'the lease is still the earlier owner\'s')

  // A restart of an attempt saves only while the run owns its request id.
  const run = new KeyedCall({ scope: 'vehicle:V1', key: 'restart', fingerprint: 'f', nowMs, leaseMs: 60_000, owner: 'run' })
  const t2 = { ...trip, tripId: 't-y' }
  t.same(await tw.createLeasedTrip(t2, { name: 'trip:t-y', owner: 'me', nowMs, ttlMs: 60_000 }, run), { leased: true, hold: null })
  t.equal(await tw.saveTripOwned({ ...t2, attempt: 2 }, { fromStates: ['trying'] }, run), true, 'owned: saved')
  f.store.db.prepare("UPDATE idempotency_keys SET owner = 'another-run' WHERE key = 'restart'").run()
  const lost = await tw.saveTripOwned({ ...t2, attempt: 3 }, { fromStates: ['trying'] }, run).catch((e: unknown) => e)
  t.ok(lost instanceof KeyHeld, 'lost to another run: KeyHeld')
  t.match(await f.store.trips.getTrip('t-y'), { attempt: 2 }, 'and nothing written')
})

/** Both of feira's stations booked at `at` by another vehicle (a reservation each). */
async function bookFeira(f: Feira, at: string): Promise<void> {
  for (const st of BAHIA[0]?.stations ?? []) {
    const out = await f.store.reservations.createReservation({ reservationId: `r-${st.stationId}`, vehicleId: 'OTHER', atMs: Date.parse(at), candidates: [st], windowMs: 120 * 60_000, nowMs: f.h.clock.now() })
    if (!out.ok) throw new Error('could not book')
  }
}

t.test('hop 0\'s hold is booked in the trip\'s first write; one that write cannot book is placed, or refused, as any hold is', async (t) => {
  await t.test('booked with the trip: the hold exists once the first write committed, before the step that would place it', async (t) => {
    let holdsAtPeerCall = -1
    let f: Feira | null = null
    f = await feira(t, {
      beforeStep: (s) => {
        if (s.step === 'hold' && s.hop === 0 && f) holdsAtPeerCall = count(f.store, 'SELECT count(*) AS n FROM holds')
      },
    })
    const args = await reserveArgs(f)
    const { trip } = await f.call('route.reserve', args, 'first')
    t.equal(holdsAtPeerCall, 1, 'hop 0 held at feira, with its trip, when the hold step began')
    t.equal(trip.legs[0]?.hubId, 'feira')
  })
  await t.test('both stations taken at hop 0\'s time: the trip fails at hop 0 (NO_STATION_AVAILABLE), nothing left held', async (t) => {
    const f = await feira(t)
    const args = await reserveArgs(f)
    await bookFeira(f, args.times[0] as string)
    const out = await f.call('route.reserve', args, 'full').catch((e: unknown) => e)
    t.equal(codeOf(out), 'ROUTE_FAILED')
    t.match((out as VoltwayError).details, { failedHop: 0, reason: 'NO_STATION_AVAILABLE' })
    t.equal(count(f.store, 'SELECT count(*) AS n FROM holds'), 0, 'nothing held')
    t.same(f.store.db.prepare('SELECT state FROM trips').all(), [{ state: 'aborted' }])
    t.equal(keyRow(f.store, 'full')?.state, 'done', 'the failure is the id\'s kept answer')
  })
  await t.test('the vehicle at its booking limit: RESERVATION_LIMIT at hop 0, counted in the trip\'s first write', async (t) => {
    const f = await feira(t)
    const args = await reserveArgs(f)
    const limit = f.h.hub('feira').config.rules.maxReservationsPerVehicle
    for (let i = 0; i < limit; i++) {
      const at = Date.parse(args.times[0] as string) + (i + 1) * 24 * 3_600_000
      const out = await f.store.reservations.createReservation({ reservationId: `r-${i}`, vehicleId: 'V1', atMs: at, candidates: BAHIA[0]?.stations ?? [], windowMs: 120 * 60_000, nowMs: f.h.clock.now() })
      t.ok(out.ok)
    }
    const out = await f.call('route.reserve', args, 'limit').catch((e: unknown) => e)
    t.match((out as VoltwayError).details, { failedHop: 0, reason: 'RESERVATION_LIMIT' })
    t.equal(count(f.store, 'SELECT count(*) AS n FROM holds'), 0, 'nothing held')
  })
})

/** Feira and Salvador with one station each: an older trip's hold at Salvador makes a younger trip die there (wait-die). */
const ONE_STATION = BAHIA.slice(0, 2).map((s) => ({ ...s, stations: s.stations.slice(0, 1) }))

for (const storage of ['memory', 'sqlite'] as const) {
  t.test(`[${storage}] a run whose request id a repeat answered in the pause before a wait-die restart restarts nothing: no booking behind a kept ROUTE_FAILED`, async (t) => {
    const h = await startFederationHubs({ specs: ONE_STATION, links: BAHIA_LINKS.slice(0, 1), storage, tuning: { restartDelayMs: 50, maxAttempts: 3 }, rules: { minLeadMinutes: 0 } })
    t.teardown(() => h.close())
    const hub = h.hub('feira')
    const handlers: HandlerTable = idempotentOps(tripOpHandlers({ federation: hub.federation }), { store: hub.store.idempotency, clock: h.clock, logger: pino({ enabled: false }), waitMs: 0, keyedOps: keyedOpsFor(hub.store) })
    const call = <O extends OpName>(op: O, args: OpArgsInput<O>, requestId: string): Promise<OpResult<O>> =>
      (handlers[op] as OpHandler<O>)(OPS[op].args.parse(args) as Parameters<OpHandler<O>>[0], { hubId: 'feira', vehicleId: 'V1', requestId, op })
    const { route } = await call('route.list', { destination: 'salvador' }, 'list')
    const args = { routeId: route.routeId, times: [inMinutes(h.clock, 180), inMinutes(h.clock, 240)], position: FROM, rangeKm: 250 }
    // An older trip holds Salvador's only station at hop 1's time: the first attempt dies there.
    await h.hub('salvador').federation.holds.place('feira', 'older-hold', { txId: 'older', txStartedAt: '2026-11-24T11:00:00Z', vehicleId: 'V0', at: args.times[1] as string, from: { lat: -12.97, lon: -38.5 }, rangeKm: 10, ttlSeconds: 30 })
    const trips = hub.store.trips
    const save = trips.saveTrip.bind(trips)
    let repeat: Promise<unknown> | null = null
    trips.saveTrip = async (trip: TripRecord, opts) => {
      const saved = await save(trip, opts)
      if (trip.state === 'aborted' && repeat === null) {
        // The pause before the restart: the older trip gives way, the run stalls past its claim, and the vehicle repeats.
        await h.hub('salvador').federation.holds.release('feira', 'older-hold')
        h.clock.advanceSeconds(7)
        repeat = call('route.reserve', args, 'req').catch((e: unknown) => e)
        await repeat
      }
      return saved
    }
    const first = await call('route.reserve', args, 'req').catch((e: unknown) => e)
    const repeated = await repeat
    const booked = (await hub.store.reservations.counts(h.clock.now())).reservations + (await h.hub('salvador').store.reservations.counts(h.clock.now())).reservations
    t.equal(codeOf(repeated), 'ROUTE_FAILED', 'the repeat answered the aborted attempt\'s failure, kept for the id')
    t.equal(codeOf(first), 'ROUTE_FAILED', 'the run answers what the id holds')
    t.equal(booked, 0, 'and booked nothing behind that answer')
  })
}
