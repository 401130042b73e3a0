/**
 * findBookings on PostgreSQL answers a burst of questions (one turn of the
 * event loop) with one query per cluster of times (hub/store/postgres/
 * find-batcher.ts): each answer equals the one the question gets alone, with
 * its own stations, window and clock, and two far-apart clusters cost two
 * round trips, not one per question nor one spanning a month of bookings.
 */
import t from 'tap'
import prand from 'pure-rand'
import type { BookingQuery } from '../hub/store/index.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'

const skip = await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${skip}`)

const MIN = 60_000
const HOUR = 60 * MIN
const T = Date.parse('2026-12-01T08:00:00Z')
const MONTH = 30 * 24 * HOUR
const position = { lat: -12.97, lon: -38.5 }
const STATIONS = Array.from({ length: 10 }, (_, i) => `S${i}`)

t.test('a burst of findBookings: each answer as alone, one round trip per cluster of times', { skip: skip ?? false }, async (t) => {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const store = await pg.schema().open({ max: 2 })
  const rng = prand.xoroshiro128plus(20261130)
  const int = (lo: number, hi: number): number => prand.unsafeUniformIntDistribution(lo, hi, rng)

  // Reservations and holds (some expiring within the questions' clocks) around both clusters.
  let n = 0
  for (const base of [T, T + MONTH]) {
    for (let i = 0; i < 60; i++) {
      const stationId = STATIONS[int(0, 9)] as string
      const atMs = base + int(-4, 8) * 30 * MIN
      const candidates = [{ stationId, position }]
      if (i % 3 === 0) await store.reservations.placeHold({ holdId: `h${++n}`, txId: `tx${n}`, txStartedAtMs: T - HOUR, vehicleId: 'V1', atMs, candidates, windowMs: 30 * MIN, nowMs: T - HOUR, expiresAtMs: T - HOUR + int(1, 120) * MIN })
      else await store.reservations.createReservation({ reservationId: `r${++n}`, vehicleId: 'V1', atMs, candidates, windowMs: 30 * MIN, nowMs: T - HOUR })
    }
  }

  const questions: BookingQuery[] = []
  for (const base of [T, T + MONTH]) {
    for (let i = 0; i < 20; i++) {
      const stationIds = STATIONS.filter(() => int(0, 2) > 0)
      questions.push({ stationIds: stationIds.length ? stationIds : ['S0'], atMs: base + int(0, 18) * 10 * MIN, windowMs: [30 * MIN, HOUR, 2 * HOUR][int(0, 2)] as number, nowMs: T - HOUR + int(0, 150) * MIN })
    }
  }

  const alone = []
  for (const q of questions) alone.push(await store.reservations.findBookings(q))
  t.ok(alone.some((a) => a.length > 0) && alone.some((a) => a.some((b) => b.kind === 'hold')), 'the questions meet reservations and live holds')

  const query = store.db.query.bind(store.db)
  let roundTrips = 0
  store.db.query = ((text: string, values?: unknown[], o?: Parameters<typeof query>[2]) => (roundTrips++, query(text, values, o))) as typeof store.db.query
  const burst = await Promise.all(questions.map((q) => store.reservations.findBookings(q)))
  store.db.query = query
  t.same(burst, alone, `${questions.length} answers, each as asked alone`)
  t.equal(roundTrips, 2, 'one round trip per cluster of times')
})
