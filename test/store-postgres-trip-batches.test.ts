/**
 * The PostgreSQL trip and lease stores batch per turn (hub/store/postgres/
 * rows-by-key.ts, trips.ts, leases.ts): the reads of peer-hold entries and
 * trips by id, the trips created, the fresh peer-hold entries, the lease
 * acquires and releases asked during one turn are one statement each. A
 * burst of calls gets the answers and leaves the rows that the same calls
 * give asked one after another, in a handful of statements; a row the
 * database refuses fails only its own caller.
 */
import t from 'tap'
import { StoreError, type PostgresStore } from '../hub/store/index.js'
import { oneQuestionMayCause } from '../hub/store/postgres/errors.js'
import type { RecordPeerHoldInput, TripRecord } from '../hub/store/trips.js'
import { postgresSkipReason, seededTwins } from './helpers/store-postgres.js'

const skip = await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${skip}`)

const T = Date.parse('2026-12-01T08:00:00Z')
const position = { lat: -12.97, lon: -38.5 }
const placed = (i: number, peer = 'feira'): RecordPeerHoldInput => ({
  holdId: `h-${i}`,
  peerHubId: peer,
  txId: `t-${i}`,
  vehicleId: `V${i % 3}`,
  stationId: `S${i % 4}`,
  position,
  atMs: T + 3_600_000 * (i + 1),
  expiresAtMs: T + 60_000,
  nowMs: T,
})
const tripOf = (i: number): TripRecord => ({
  tripId: `trip-${i}`,
  vehicleId: `V${i % 3}`,
  routeId: 'r1',
  txStartedAtMs: T,
  attempt: 1,
  state: i % 2 === 0 ? 'trying' : 'confirmed',
  legs: [{ hop: 0, hubId: 'feira', holdId: `h-${i}`, atMs: T + 3_600_000, stationId: null, position: null, expiresAtMs: null, reservationId: null }],
  failure: null,
  createdAtMs: T,
  updatedAtMs: T,
})

/** Entries in every state (placed, confirmed, released, a tombstone), and trips. */
async function seed(store: PostgresStore): Promise<void> {
  for (let i = 0; i < 12; i++) await store.trips.recordPeerHold(placed(i))
  for (let i = 0; i < 3; i++) await store.trips.peerHoldConfirmed({ holdId: `h-${i}`, reservationId: `r-${i}`, nowMs: T + 1 })
  await store.trips.releasePeerHold({ holdId: 'h-3', peerHubId: 'feira', nowMs: T + 1 })
  await store.trips.releasePeerHold({ holdId: 'h-tomb', peerHubId: 'feira', nowMs: T + 1 })
  for (let i = 0; i < 6; i++) await store.trips.createTrip(tripOf(i))
}

/**
 * The calls of the burst, in the order asked: reads of every kind of id, then transitions (on
 * other ids than the reads', since calls of one turn run side by side as they would unbatched).
 */
function calls(store: PostgresStore): Array<() => Promise<unknown>> {
  const s = store.trips
  return [
    ...['h-0', 'h-3', 'h-5', 'h-tomb', 'h-none', 'h-5', 'h-11'].map((id) => () => s.getPeerHold(id)),
    ...['trip-0', 'trip-1', 'trip-none', 'trip-5', 'trip-1'].map((id) => () => s.getTrip(id)),
    () => s.peerHoldConfirmed({ holdId: 'h-6', reservationId: 'r-6', nowMs: T + 2 }),
    () => s.peerHoldConfirmed({ holdId: 'h-3', reservationId: 'r-3', nowMs: T + 2 }), // released: refused
    () => s.releasePeerHold({ holdId: 'h-7', peerHubId: 'feira', nowMs: T + 2 }),
    () => s.releasePeerHold({ holdId: 'h-8', peerHubId: 'salvador', nowMs: T + 2 }), // another peer's
    () => s.releasePeerHold({ holdId: 'h-new-tomb', peerHubId: 'feira', nowMs: T + 2 }),
    () => s.recordPeerHold({ ...placed(9), nowMs: T + 2 }), // known: answered from its entry
    () => s.recordPeerHold({ ...placed(40), nowMs: T + 2 }),
    () => s.recordPeerHold({ ...placed(41), holdId: 'h-tomb', nowMs: T + 2 }), // a release overtook it
    () => s.peerHoldCancelled({ holdId: 'h-10', nowMs: T + 2 }),
  ]
}

const settle = (p: Promise<unknown>): Promise<unknown> => p.then((value) => ({ value }), (err: unknown) => ({ error: String(err) }))
/** The outcomes of `calls` asked one after another (the reference a burst must match). */
async function oneByOne(calls: Array<() => Promise<unknown>>): Promise<unknown[]> {
  const out: unknown[] = []
  for (const call of calls) out.push(await settle(call()))
  return out
}
/** The outcomes of `calls` all asked in one turn (one batch). */
const inOneTurn = (calls: Array<() => Promise<unknown>>): Promise<unknown[]> => Promise.all(calls.map((call) => settle(call())))

async function rowsOf(store: PostgresStore): Promise<unknown> {
  const peerHolds = (await store.db.query('SELECT * FROM peer_holds ORDER BY hold_id')).rows
  const trips = (await store.db.query('SELECT trip_id, state FROM trips ORDER BY trip_id')).rows
  return { peerHolds, trips }
}

/** Counts the store's statements that read peer holds or trips by id, and all of them. */
function countReads(store: PostgresStore): { reads: number; all: number; stop: () => void } {
  const { query } = store.db
  const seen = { reads: 0, all: 0, stop: () => void (store.db.query = query) }
  store.db.query = ((text: string, values?: unknown[], o?: Parameters<typeof query>[2]) => {
    seen.all++
    if (/^\s*SELECT \*.* FROM (peer_holds|trips) WHERE (hold_id|trip_id) = ANY/.test(text)) seen.reads++
    return query.call(store.db, text, values, o)
  }) as typeof store.db.query
  return seen
}

t.test('a burst of reads by id and peer-hold transitions answers and writes as the same calls one after another, in one read per table and turn', { skip: skip ?? false }, async (t) => {
  const { one, burst } = await seededTwins(t, seed)
  const alone = await oneByOne(calls(one))

  const counted = countReads(burst)
  const together = await inOneTurn(calls(burst))
  counted.stop()
  t.same(together, alone, 'every caller gets the answer it gets alone')
  t.same(await rowsOf(burst), await rowsOf(one), 'the same rows')
  const after = ['h-6', 'h-7', 'h-40', 'h-new-tomb', 'h-tomb']
  t.same(await Promise.all(after.map((id) => burst.trips.getPeerHold(id))), await Promise.all(after.map((id) => one.trips.getPeerHold(id))), 'the next turn reads what the transitions wrote')
  // Alone, each read and each transition's read is a statement of its own: 7 + 5 + at least 8 here.
  t.ok(counted.reads <= 8, `reads by id in a handful of statements (${counted.reads})`)
  t.ok(counted.reads >= 2, 'both tables were read')
})

t.test('a key the database refuses fails only its own read; the others of its turn get their rows', { skip: skip ?? false }, async (t) => {
  const { burst } = await seededTwins(t, seed)
  const out = await Promise.all(['h-0', 'h-\u0000', 'h-5', 'h-none'].map((id) => settle(burst.trips.getPeerHold(id))))
  t.match(out[0], { value: { holdId: 'h-0', state: 'confirmed' } })
  t.match(out[1], { error: /./ }, 'U+0000, which PostgreSQL refuses in text, fails its caller')
  t.match(out[2], { value: { holdId: 'h-5', state: 'placed' } })
  t.same(out[3], { value: null })
  const trips = await Promise.all(['trip-0', 'trip-\u0000'].map((id) => settle(burst.trips.getTrip(id))))
  t.match(trips[0], { value: { tripId: 'trip-0', state: 'trying' } })
  t.match(trips[1], { error: /./ })
})

t.test('an id with a lone surrogate (stored as U+FFFD) finds its own row: a fresh entry is recorded, read back and its lease taken, as alone', { skip: skip ?? false }, async (t) => {
  const { burst } = await seededTwins(t, seed)
  const id = 'h-\ud800'
  const within = <V>(p: Promise<V>): Promise<V | 'no answer'> => Promise.race([p, new Promise<'no answer'>((r) => setTimeout(() => r('no answer'), 3_000))])
  // Matched by the id as asked, the inserted row was missed: recorded again and again, forever.
  t.equal(await within(burst.trips.recordPeerHold({ ...placed(50), holdId: id })), null, 'recorded (null: it was new)')
  t.match(await burst.trips.getPeerHold(id), { holdId: 'h-\ufffd', state: 'placed' }, 'read back (as stored)')
  t.equal(await burst.trips.peerHoldConfirmed({ holdId: id, reservationId: 'r-50', nowMs: T + 1 }), true, 'confirmed')
  t.equal(await burst.leases.acquire({ name: `trip:${id}`, owner: 'replica-a', nowMs: T, ttlMs: 1_000 }), true, 'the lease is taken')
  t.equal(await burst.trips.saveTrip({ ...tripOf(60), tripId: 'trip-\udc00' }), false, 'no such trip yet')
  await burst.trips.createTrip({ ...tripOf(60), tripId: 'trip-\udc00' })
  t.equal(await burst.trips.saveTrip({ ...tripOf(60), tripId: 'trip-\udc00', attempt: 2 }), true, 'a save of a trip that exists is written')
})

t.test('a burst of trips created, fresh peer-hold entries and leases taken and given back answers and writes as the same calls one after another, in one statement per kind', { skip: skip ?? false }, async (t) => {
  const { one, burst } = await seededTwins(t, seed)
  const TTL = 15_000
  const writes = (store: PostgresStore): Array<() => Promise<unknown>> => [
    ...Array.from({ length: 8 }, (_, i) => () => store.trips.createTrip(tripOf(100 + i))),
    () => store.trips.createTrip(tripOf(2)), // an id used before: fails alone
    ...Array.from({ length: 8 }, (_, i) => () => store.trips.recordPeerHold(placed(200 + i))),
    () => store.trips.recordPeerHold({ ...placed(300), holdId: 'h-twice' }),
    () => store.trips.recordPeerHold({ ...placed(301, 'salvador'), holdId: 'h-twice' }), // the same id in the same turn, another peer
    () => store.trips.recordPeerHold(placed(5)), // known
    ...Array.from({ length: 8 }, (_, i) => () => store.leases.acquire({ name: `trip:n${i}`, owner: 'replica-a', nowMs: T, ttlMs: TTL })),
    () => store.leases.acquire({ name: 'held', owner: 'replica-a', nowMs: T, ttlMs: TTL }), // another's, live
    () => store.leases.acquire({ name: 'lapsed', owner: 'replica-a', nowMs: T, ttlMs: TTL }), // another's, expired at T
    () => store.leases.acquire({ name: 'mine', owner: 'replica-a', nowMs: T, ttlMs: TTL }),
    () => store.leases.release('given', 'replica-a'),
    () => store.leases.release('held', 'replica-a'), // not its owner: kept
    // Saves: from a state it is in, from one it is not in, any state, and one trip saved twice in the turn.
    () => store.trips.saveTrip({ ...tripOf(0), state: 'confirming', updatedAtMs: T + 5 }, { fromStates: ['trying'] }),
    () => store.trips.saveTrip({ ...tripOf(1), state: 'aborted', updatedAtMs: T + 5 }, { fromStates: ['trying', 'confirming'] }),
    () => store.trips.saveTrip({ ...tripOf(3), attempt: 2, updatedAtMs: T + 5 }),
    () => store.trips.saveTrip({ ...tripOf(4), state: 'confirming', updatedAtMs: T + 5 }, { fromStates: ['trying'] }),
    () => store.trips.saveTrip({ ...tripOf(4), state: 'confirmed', updatedAtMs: T + 6 }, { fromStates: ['confirming'] }),
    () => store.trips.saveTrip({ ...tripOf(4), state: 'aborted', updatedAtMs: T + 7 }, { fromStates: ['trying'] }),
    () => store.trips.saveTrip({ ...tripOf(77), updatedAtMs: T + 5 }), // no such trip
  ]
  for (const s of [one, burst]) {
    await s.leases.acquire({ name: 'held', owner: 'replica-b', nowMs: T, ttlMs: TTL })
    await s.leases.acquire({ name: 'lapsed', owner: 'replica-b', nowMs: T - TTL, ttlMs: TTL })
    await s.leases.acquire({ name: 'mine', owner: 'replica-a', nowMs: T - 1_000, ttlMs: TTL })
    await s.leases.acquire({ name: 'given', owner: 'replica-a', nowMs: T - 1_000, ttlMs: TTL })
  }
  const alone = await oneByOne(writes(one))
  const counted = countReads(burst)
  const together = await inOneTurn(writes(burst))
  counted.stop()
  t.same(together, alone, 'every caller gets the answer it gets alone')
  t.match(together[8], { error: /./ }, 'the trip id used before fails')
  t.same(together.slice(0, 8), Array.from({ length: 8 }, () => ({ value: undefined })), 'the others are created')
  t.same(together.slice(-12, -9), [{ value: false }, { value: true }, { value: true }], 'held by another: refused; expired at the caller\'s clock, or its own: taken')
  t.same(together.slice(-7), [true, false, true, true, true, false, false].map((value) => ({ value })), 'each save compares against the state the one asked before it left')
  t.same(await rowsOf(burst), await rowsOf(one), 'the same trips and peer-hold entries')
  const leases = async (s: PostgresStore): Promise<unknown> => (await s.db.query('SELECT name, owner, expires_at_ms FROM leases ORDER BY name')).rows
  const trips = async (s: PostgresStore): Promise<unknown> => (await s.db.query('SELECT trip_id, state, attempt, updated_at_ms FROM trips ORDER BY trip_id')).rows
  t.same(await trips(burst), await trips(one), 'the same trips, saves included')
  t.same(await leases(burst), await leases(one), 'the same leases')
  // Alone: 9 trips, 11 entries, 13 leases, 7 saves, at least 40 statements; batched, a statement per kind,
  // the second attempts of the failed trip batch (9), of the entry asked twice and of the trip saved thrice.
  t.ok(counted.all <= 24, `in a handful of statements (${counted.all})`)
})

t.test('a burst of hold confirms answers and writes as the same confirms one after another, in one statement for the live holds', { skip: skip ?? false }, async (t) => {
  const WINDOW = 3_600_000
  const hold = (i: number, o: { station?: string; ttl?: number } = {}) => ({
    holdId: `hold-${i}`,
    vehicleId: `V${i % 3}`,
    atMs: T + 24 * 3_600_000 + i * 3 * WINDOW,
    candidates: [{ stationId: o.station ?? 'S0', position }],
    windowMs: WINDOW,
    nowMs: T,
    expiresAtMs: T + (o.ttl ?? 60_000),
    txId: `tx-${i}`,
    txStartedAtMs: T,
  })
  const { one, burst } = await seededTwins(t, async (s) => {
    for (let i = 0; i < 10; i++) t.ok((await s.reservations.placeHold(hold(i))).ok)
    // Expired at the confirms' clock: hold 20's slot still free, hold 21's taken since by a reservation.
    t.ok((await s.reservations.placeHold(hold(20, { ttl: 1_000 }))).ok)
    t.ok((await s.reservations.placeHold(hold(21, { ttl: 1_000 }))).ok)
    await s.reservations.deleteExpiredHolds(T + 2_000)
    const taken = await s.reservations.createReservation({ reservationId: 'r-taken', vehicleId: 'V9', atMs: hold(21).atMs, candidates: hold(21).candidates, windowMs: WINDOW, nowMs: T + 2_000 })
    t.ok(taken.ok)
    await s.reservations.confirmHold({ holdId: 'hold-9', reservationId: 'res-9', nowMs: T + 1 })
    await s.db.query(`INSERT INTO reservations (reservation_id, station_id, vehicle_id, lat, lon, at_ms, created_at_ms) VALUES ('res-used', 'S3', 'V9', 0, 0, $1, $2)`, [T + 999 * WINDOW, T])
  })
  const now = T + 5_000
  const confirms = (s: PostgresStore): Array<() => Promise<unknown>> => [
    ...Array.from({ length: 6 }, (_, i) => () => s.reservations.confirmHold({ holdId: `hold-${i}`, reservationId: `res-${i}`, nowMs: now })),
    () => s.reservations.confirmHold({ holdId: 'hold-6', reservationId: 'res-used', nowMs: now }), // an id used before: fails alone
    () => s.reservations.confirmHold({ holdId: 'hold-7', reservationId: 'res-7', nowMs: now }),
    () => s.reservations.confirmHold({ holdId: 'hold-7', reservationId: 'res-7', nowMs: now }), // the same, twice in the turn
    () => s.reservations.confirmHold({ holdId: 'hold-9', reservationId: 'res-9', nowMs: now }), // confirmed before
    () => s.reservations.confirmHold({ holdId: 'hold-20', reservationId: 'res-20', nowMs: now }), // expired, slot free
    () => s.reservations.confirmHold({ holdId: 'hold-21', reservationId: 'res-21', nowMs: now }), // expired, slot taken
    () => s.reservations.confirmHold({ holdId: 'hold-none', reservationId: 'res-none', nowMs: now }),
  ]
  const alone = await oneByOne(confirms(one))
  const { query } = burst.db
  let confirmStatements = 0
  burst.db.query = ((text: string, values?: unknown[], o?: Parameters<typeof query>[2]) => {
    if (/^\s*WITH v AS|^\s*WITH cur AS/.test(text)) confirmStatements++
    return query.call(burst.db, text, values, o)
  }) as typeof burst.db.query
  const together = await inOneTurn(confirms(burst))
  t.same(together, alone, 'every confirm gets the outcome it gets alone')
  t.match(together[0], { value: { status: 'confirmed', reservation: { reservationId: 'res-0', stationId: 'S0' } } })
  t.match(together[6], { error: /./ }, 'the reservation id used before fails its own confirm')
  const rows = async (s: PostgresStore): Promise<unknown> => ({
    holds: (await s.db.query('SELECT hold_id, reservation_id FROM holds ORDER BY hold_id')).rows,
    reservations: (await s.db.query('SELECT reservation_id, station_id, vehicle_id, at_ms, hold_id FROM reservations ORDER BY reservation_id')).rows,
    slots: (await s.db.query('SELECT station_id, at_ms, hold_id, reservation_id FROM booking_slots ORDER BY station_id, at_ms, reservation_id, hold_id')).rows,
  })
  t.same(await rows(burst), await rows(one), 'the same holds, reservations and slots')
  // Without a failing row: 8 live holds confirmed in one turn are one statement (alone: 8).
  for (const st of [one, burst]) for (let i = 30; i < 38; i++) t.ok((await st.reservations.placeHold(hold(i, { station: 'S1' }))).ok)
  const clean = (st: PostgresStore): Array<() => Promise<unknown>> => Array.from({ length: 8 }, (_, i) => () => st.reservations.confirmHold({ holdId: `hold-${30 + i}`, reservationId: `res-${30 + i}`, nowMs: now }))
  const cleanAlone = await oneByOne(clean(one))
  confirmStatements = 0
  t.same(await inOneTurn(clean(burst)), cleanAlone)
  burst.db.query = query
  t.equal(confirmStatements, 1, 'one confirm statement for the turn')
  t.same(await rows(burst), await rows(one))
})

t.test('which failures of a batched statement are asked again one question at a time (oneQuestionMayCause)', (t) => {
  const pgError = (code: string): Error => Object.assign(new Error(`pg ${code}`), { code })
  for (const [code, alone] of [
    ['23505', true], // an id used before
    ['22021', true], // a value the database refuses (U+0000)
    ['55P03', true], // a row another writer held past the lock timeout
    ['40P01', true], // a deadlock with another writer
    ['08006', false], // the connection broke
    ['ECONNREFUSED', false], // no server
    ['57P01', false], // the server shutting down
  ] as const) t.equal(oneQuestionMayCause(pgError(code)), alone, code)
  t.equal(oneQuestionMayCause(new StoreError('BUSY', 'all 10 pooled connections stayed in use')), false, 'a pool that stayed full')
  t.equal(oneQuestionMayCause(new StoreError('CLOSED', 'store is closed')), false)
  t.end()
})

t.test("a burst of per-vehicle counts (every booking's limit check) answers as the counts asked one by one, both kinds in one statement per turn", { skip: skip ?? false }, async (t) => {
  const { one, burst } = await seededTwins(t, seed)
  const asks = (store: PostgresStore): Array<() => Promise<unknown>> => [
    ...['V0', 'V1', 'V2', 'V9', 'V1'].map((vehicleId) => () => store.reservations.countVehicleBookings({ vehicleId, fromMs: T, nowMs: T })),
    ...[undefined, 'feira', 'salvador'].flatMap((peerHubId) =>
      ['V0', 'V1', 'V2', 'V9'].map((vehicleId) => () => store.trips.countPeerVehicleHolds({ vehicleId, fromMs: T, nowMs: T, ...(peerHubId ? { peerHubId } : {}) })),
    ),
  ]
  const alone = await oneByOne(asks(one))
  let statements = 0
  const { query } = burst.db
  burst.db.query = ((text: string, values?: unknown[], o?: Parameters<typeof query>[2]) => {
    statements++
    return query.call(burst.db, text, values, o)
  }) as typeof burst.db.query
  const together = await inOneTurn(asks(burst))
  burst.db.query = query
  t.same(together, alone, 'every caller gets the count it gets alone')
  t.ok((alone as Array<{ value: number }>).some((x) => x.value > 0), 'some counts are not zero')
  t.equal(statements, 1, `17 counts of both kinds in ${statements} statement`)
})
