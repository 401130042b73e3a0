/**
 * The SQLite store answers "is it free at `at`" (findBookings, behind
 * station.nearest) from an in-memory BookingIndex. fast-check mixes
 * bookings, holds that expire on an injected clock, confirmations, releases,
 * cancellations and housekeeping, made through that store and through a
 * second handle on the same file (another writer the index never hears
 * from), and after every step the index's answer must equal the database's
 * own (the second handle runs the SQL query, no index), for every station at
 * times around the bookings, in the past beyond the index's floor included.
 * The same index decides inside the booking transaction: every booking made,
 * bursts that share one group commit included, must be the only one that
 * blocks its station at its time, by the database's own query. The same
 * steps check each vehicle's count of live bookings (the per-vehicle limit's,
 * from VehicleBookingIndex) against the database's. Half the questions say
 * when they came in (BookingQuery.receivedAt: after the step's writes), so
 * the store may answer them from the look at the database it took for an
 * earlier question of the same step instead of asking SQLite again.
 */
import { rmSync } from 'node:fs'
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { TestClock } from '../hub/clock.js'
import { SqliteStore, type Booking, type ReservationRecord } from '../hub/store/index.js'
import { BookingIndex } from '../hub/store/booking-index.js'
import { tempDir } from './helpers/hub.js'

const RUNS = Number(process.env.VOLTWAY_PROPERTY_RUNS ?? 60)
/** A fixed seed keeps CI deterministic; `VOLTWAY_PROPERTY_SEED=random` (or a number) explores further. */
const SEED = process.env.VOLTWAY_PROPERTY_SEED === 'random' ? undefined : Number(process.env.VOLTWAY_PROPERTY_SEED ?? 20261130)
const MIN = 60_000
const WINDOW = 120 * MIN
const STATIONS = ['S0', 'S1', 'S2', 'S3']
const position = { lat: -12.97, lon: -38.5 }
const candidate = (i: number) => ({ stationId: STATIONS[i % STATIONS.length] as string, position })

type Writer = 'indexed' | 'other'
type Step =
  | { op: 'book'; by: Writer; stations: number[]; slot: number; vehicle: number }
  | { op: 'burst'; stations: number[]; slot: number; count: number }
  | { op: 'hold'; by: Writer; stations: number[]; slot: number; ttlMin: number; vehicle: number }
  | { op: 'confirm'; by: Writer; pick: number }
  | { op: 'release'; by: Writer; pick: number }
  | { op: 'cancel'; by: Writer; pick: number; wrongVehicle: boolean }
  | { op: 'cancelVehicle'; by: Writer; vehicle: number; fromSlot: number }
  | { op: 'expire'; by: Writer }
  | { op: 'advance'; minutes: number }

const writer = fc.constantFrom<Writer>('indexed', 'indexed', 'other')
const stations = fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 3 })
/** Booking times: 30 min slots from 2 h before the start to 10 h after, so windows overlap often. */
const slot = fc.integer({ min: -4, max: 20 })
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('book' as const), by: writer, stations, slot, vehicle: fc.nat({ max: 3 }) }) },
  // Bookings asked for in one turn: they share one group commit, each checked against the ones before it.
  { weight: 2, arbitrary: fc.record({ op: fc.constant('burst' as const), stations, slot, count: fc.integer({ min: 2, max: 5 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('hold' as const), by: writer, stations, slot, ttlMin: fc.integer({ min: 1, max: 90 }), vehicle: fc.nat({ max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('confirm' as const), by: writer, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), by: writer, pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), by: writer, pick: fc.nat(), wrongVehicle: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cancelVehicle' as const), by: writer, vehicle: fc.nat({ max: 3 }), fromSlot: slot }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), by: writer }) },
  // Minutes to let holds expire; now and then a day and more, past the index's horizon.
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), minutes: fc.oneof(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1400, max: 3100 })) }) },
)

const describe = (b: Booking): string => `${b.kind} ${b.id} ${b.stationId} ${b.atMs}${b.kind === 'hold' ? ` expires ${b.expiresAtMs}` : ''}`

t.test('the booking index answers findBookings as the database does, under random writes from this store and another handle on the file', async (t) => {
  let checks = 0
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), async (steps) => {
      const dir = tempDir()
      const clock = new TestClock('2026-11-24T12:00:00Z')
      const start = clock.now()
      const indexed = new SqliteStore({ dataDir: dir })
      const other = new SqliteStore({ dataDir: dir, bookingIndex: false })
      const handle = (w: Writer) => (w === 'indexed' ? indexed : other).reservations
      const holds: string[] = []
      const reservations: ReservationRecord[] = []
      let n = 0
      const atOf = (s: number): number => start + s * 30 * MIN
      /** A booking just made must be the only one blocking its station at its time, by the database's own query. */
      const alone = async (b: { stationId: string; atMs: number }, id: string): Promise<void> => {
        const blocking = await other.reservations.findBookings({ stationIds: [b.stationId], atMs: b.atMs, windowMs: WINDOW, nowMs: clock.now() })
        if (blocking.length !== 1 || blocking[0]?.id !== id) throw new Error(`${id} booked ${b.stationId} at ${b.atMs}, where the database has: ${blocking.map(describe).join('; ')}`)
      }
      try {
        for (const s of steps) {
          const nowMs = clock.now()
          switch (s.op) {
            case 'book': {
              const r = await handle(s.by).createReservation({ reservationId: `r${++n}`, vehicleId: `V${s.vehicle}`, atMs: atOf(s.slot), candidates: s.stations.map(candidate), windowMs: WINDOW, nowMs })
              if (r.ok) reservations.push(r.record)
              if (r.ok) await alone(r.record, r.record.reservationId)
              break
            }
            case 'burst': {
              const made = await Promise.all(
                Array.from({ length: s.count }, (_, i) =>
                  indexed.reservations.createReservation({ reservationId: `r${++n}`, vehicleId: `V${i}`, atMs: atOf(s.slot), candidates: s.stations.map(candidate), windowMs: WINDOW, nowMs }),
                ),
              )
              for (const r of made) if (r.ok) reservations.push(r.record)
              for (const r of made) if (r.ok) await alone(r.record, r.record.reservationId)
              break
            }
            case 'hold': {
              const r = await handle(s.by).placeHold({ holdId: `h${++n}`, vehicleId: `V${s.vehicle}`, atMs: atOf(s.slot), candidates: s.stations.map(candidate), windowMs: WINDOW, nowMs, expiresAtMs: nowMs + s.ttlMin * MIN, txId: `tx${n}`, txStartedAtMs: nowMs })
              if (r.ok) holds.push(r.record.holdId)
              if (r.ok) await alone(r.record, r.record.holdId)
              break
            }
            case 'confirm': {
              const holdId = holds[s.pick % Math.max(1, holds.length)]
              if (holdId === undefined) break
              const o = await handle(s.by).confirmHold({ holdId, reservationId: `c-${holdId}`, nowMs })
              if (o.status === 'confirmed') reservations.push(o.reservation)
              break
            }
            case 'release': {
              const holdId = holds[s.pick % Math.max(1, holds.length)]
              if (holdId !== undefined) await handle(s.by).releaseHold(holdId)
              break
            }
            case 'cancel': {
              const r = reservations[s.pick % Math.max(1, reservations.length)]
              if (r !== undefined) await handle(s.by).cancelReservation(r.reservationId, s.wrongVehicle ? 'nobody' : r.vehicleId)
              break
            }
            case 'cancelVehicle':
              await handle(s.by).cancelVehicleReservations(`V${s.vehicle}`, atOf(s.fromSlot))
              break
            case 'expire':
              await handle(s.by).deleteExpiredHolds(nowMs)
              break
            case 'advance':
              clock.advanceMinutes(s.minutes)
              break
          }
          // Every station, at every slot around the bookings and before the clock's start (beyond the floor after a long advance).
          const now = clock.now()
          // The per-vehicle limit's count (VehicleBookingIndex), for every vehicle, against the database's own.
          for (const vehicleId of ['V0', 'V1', 'V2', 'V3', 'V4']) {
            const q = { vehicleId, fromMs: now - WINDOW, nowMs: now }
            const [got, want] = await Promise.all([indexed.reservations.countVehicleBookings(q), other.reservations.countVehicleBookings(q)])
            checks++
            if (got !== want) throw new Error(`after ${s.op} by ${'by' in s ? s.by : '-'} at now=${now}: ${vehicleId} has ${got} live bookings by the index, ${want} by the store`)
          }
          const askedAt = performance.now()
          for (let q = -8; q <= 24; q += 3) {
            for (const ids of [STATIONS, [STATIONS[q & 3] as string]]) {
              const query = { stationIds: ids, atMs: atOf(q), windowMs: WINDOW, nowMs: now }
              const asked = ids === STATIONS ? { ...query, receivedAt: askedAt } : query
              const [got, want] = await Promise.all([indexed.reservations.findBookings(asked), other.reservations.findBookings(query)])
              checks++
              if (got.length !== want.length || got.some((b, i) => describe(b) !== describe(want[i] as Booking))) {
                throw new Error(`after ${s.op} by ${'by' in s ? s.by : '-'} at now=${now}, slot ${q}, stations ${ids.join(',')}:\n index: ${got.map(describe).join('; ')}\n store: ${want.map(describe).join('; ')}`)
              }
            }
          }
        }
      } finally {
        await indexed.close()
        await other.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }),
    { numRuns: RUNS, includeErrorInReport: true, ...(SEED !== undefined ? { seed: SEED } : {}) },
  )
  t.ok(checks > RUNS * 5, `${checks} answers compared`)
})

/** A store with the booking index and a second handle on the same file without it (another writer it never hears from), closed at the end of `t`. */
function twoHandles(t: Test): { clock: TestClock; indexed: SqliteStore; other: SqliteStore } {
  const dir = tempDir()
  const clock = new TestClock('2026-11-24T12:00:00Z')
  const indexed = new SqliteStore({ dataDir: dir })
  const other = new SqliteStore({ dataDir: dir, bookingIndex: false })
  t.teardown(async () => {
    await indexed.close()
    await other.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { clock, indexed, other }
}

t.test('a write by another handle on the file is seen by the next question, not served from the index', async (t) => {
  const { clock, indexed, other } = twoHandles(t)
  const query = { stationIds: ['S0'], atMs: clock.now() + 180 * MIN, windowMs: WINDOW, nowMs: clock.now() }
  t.same(await indexed.reservations.findBookings(query), [], 'free, and S0 now loaded in the index')
  const r = await other.reservations.createReservation({ reservationId: 'r-other', vehicleId: 'V1', atMs: query.atMs, candidates: [candidate(0)], windowMs: WINDOW, nowMs: clock.now() })
  t.ok(r.ok)
  t.same((await indexed.reservations.findBookings(query)).map((b) => b.id), ['r-other'], 'booked by the other handle')
})

t.test('a question that came in after another handle committed sees that commit, even right after the store looked at the database', async (t) => {
  const { clock, indexed, other } = twoHandles(t)
  const query = { stationIds: ['S0'], atMs: clock.now() + 180 * MIN, windowMs: WINDOW, nowMs: clock.now() }
  const before = performance.now()
  t.same(await indexed.reservations.findBookings({ ...query, receivedAt: before }), [], 'free: the store looked at the database for this question')
  const r = await other.reservations.createReservation({ reservationId: 'r-other', vehicleId: 'V1', atMs: query.atMs, candidates: [candidate(0)], windowMs: WINDOW, nowMs: clock.now() })
  t.ok(r.ok)
  t.same(
    (await indexed.reservations.findBookings({ ...query, receivedAt: before })).map((b) => b.id),
    [],
    'a question that came in before that look (and before the commit) may be answered from it: the booking came after it',
  )
  t.same((await indexed.reservations.findBookings({ ...query, receivedAt: performance.now() })).map((b) => b.id), ['r-other'], 'a question that came in after the commit sees it')
  t.same((await indexed.reservations.findBookings(query)).map((b) => b.id), ['r-other'], 'and so does one that does not say when it came in')
})

// Found by an attack on the first version of receivedAt, which judged holds' expiry at the time of the
// answer while the look was older: a hold confirmed by another handle after the look and expired by the
// answer left the station "free" although it was booked at every instant since the question came in.
// The question's `nowMs` is the hub's time when it came in (station.nearest: RequestContext.receivedAtMs).
t.test('a question answered from an earlier look judges holds at when it came in: a hold confirmed elsewhere since, expired by the answer, still blocks', async (t) => {
  const { clock, indexed, other } = twoHandles(t)
  const hold = (holdId: string, atMs: number) =>
    indexed.reservations.placeHold({ holdId, vehicleId: 'V1', atMs, candidates: [candidate(0)], windowMs: WINDOW, nowMs: clock.now(), expiresAtMs: clock.now() + 5 * MIN, txId: `tx-${holdId}`, txStartedAtMs: clock.now() })
  const atMs = clock.now() + 180 * MIN
  t.ok((await hold('h1', atMs)).ok, 'hold placed, expires in 5 min')
  const came = { receivedAt: performance.now(), nowMs: clock.now() }
  t.same((await indexed.reservations.findBookings({ stationIds: ['S0'], atMs, windowMs: WINDOW, nowMs: clock.now() })).map((b) => b.id), ['h1'], 'another question makes the store look: busy')
  clock.advanceMinutes(4)
  t.equal((await other.reservations.confirmHold({ holdId: 'h1', reservationId: 'r1', nowMs: clock.now() })).status, 'confirmed', 'another handle confirms it before it expires')
  clock.advanceMinutes(2)
  const answer = await indexed.reservations.findBookings({ stationIds: ['S0'], atMs, windowMs: WINDOW, ...came })
  t.equal(answer.length, 1, `busy (${answer.map((b) => b.id).join(', ')}): booked at every instant since the question came in`)

  // The same with a reservation another handle makes 1.8 windows from the hold (no conflict between them).
  const at2 = clock.now() + 600 * MIN
  t.ok((await hold('h2', at2 - 0.9 * WINDOW)).ok)
  const came2 = { receivedAt: performance.now(), nowMs: clock.now() }
  t.same((await indexed.reservations.findBookings({ stationIds: ['S0'], atMs: at2, windowMs: WINDOW, nowMs: clock.now() })).map((b) => b.id), ['h2'])
  clock.advanceMinutes(4)
  t.ok((await other.reservations.createReservation({ reservationId: 'r2', vehicleId: 'V2', atMs: at2 + 0.9 * WINDOW, candidates: [candidate(0)], windowMs: WINDOW, nowMs: clock.now() })).ok)
  clock.advanceMinutes(2)
  t.equal((await indexed.reservations.findBookings({ stationIds: ['S0'], atMs: at2, windowMs: WINDOW, ...came2 })).length, 1, 'busy: the hold until r2 was committed, r2 since')
})

t.test('the index finds a booking to remove by its time, among many at the same time and thousands ahead', (t) => {
  const index = new BookingIndex()
  t.ok(index.covers({ atMs: 0, windowMs: WINDOW, nowMs: 0 }))
  index.load('S0', [])
  const at = (i: number): number => (i % 50) * 4 * WINDOW
  const made: Booking[] = Array.from({ length: 2_000 }, (_, i) => ({ kind: 'reservation', id: `r${i}`, stationId: 'S0', vehicleId: 'V', atMs: at(i) }))
  // Added out of time order: each lands after those already at its time.
  for (const b of made) index.add(b)
  const ids = (atMs: number): string[] => {
    const out: Booking[] = []
    index.blocking('S0', { atMs, windowMs: WINDOW, nowMs: 0 }, out)
    return out.map((b) => b.id)
  }
  t.same(ids(at(7)), made.filter((b) => b.atMs === at(7)).map((b) => b.id), 'the 40 bookings at one time, in the order they came')
  // Every other one at that time goes, then the first of those left, then an id the index does not hold.
  for (const b of made.filter((b, i) => b.atMs === at(7) && i % 2 === 0)) index.remove(b.id)
  index.remove('r7')
  index.remove('r-none')
  t.same(ids(at(7)), made.filter((b, i) => b.atMs === at(7) && i % 2 === 1 && i !== 7).map((b) => b.id))
  t.same(ids(at(8)).length, 40, 'the next time keeps all of its bookings')
  t.end()
})
