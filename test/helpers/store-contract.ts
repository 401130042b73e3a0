/**
 * The Store contract, as tests. Every Store implementation runs this same
 * suite (test/store-memory.test.ts, test/store-sqlite.test.ts), in the manner
 * of aedes-persistence's abstract suite.
 */
import type { Test } from 'tap'
import { StoreError, type BookingCandidate, type CreateReservationInput, type PlaceHoldInput, type Store } from '../../hub/store/index.js'

export interface StoreHarness {
  store: Store
  /** Close the store and remove whatever it left behind. */
  dispose(): Promise<void>
}

const MIN = 60_000
const WINDOW = 120 * MIN
const T0 = Date.parse('2026-11-24T12:00:00Z')
const AT = T0 + 3 * 60 * MIN

export const station = (id: string, lat = -12.25, lon = -38.95): BookingCandidate => ({ stationId: id, position: { lat, lon } })
const S1 = station('S1')
const S2 = station('S2', -12.3, -38.9)
const S3 = station('S3', -12.35, -38.85)

let seq = 0
const nextId = (p: string): string => `${p}-${++seq}`

export function reservationInput(over: Partial<CreateReservationInput> = {}): CreateReservationInput {
  return { reservationId: nextId('r'), vehicleId: 'V1', atMs: AT, candidates: [S1], windowMs: WINDOW, nowMs: T0, ...over }
}

export function holdInput(over: Partial<PlaceHoldInput> = {}): PlaceHoldInput {
  return {
    holdId: nextId('h'),
    vehicleId: 'V9',
    atMs: AT,
    candidates: [S1],
    windowMs: WINDOW,
    nowMs: T0,
    expiresAtMs: T0 + 30_000,
    txId: nextId('tx'),
    txStartedAtMs: T0 - 1000,
    ...over,
  }
}

export function storeContract(tap: Test, name: string, open: () => Promise<StoreHarness>): void {
  const check = (rule: string, body: (t: Test, store: Store) => Promise<void>): void => {
    tap.test(`${name}: ${rule}`, async (t) => {
      const h = await open()
      t.teardown(() => h.dispose())
      await body(t, h.store)
    })
  }

  check('a reservation 119 min 59 s from another of the same station is refused', async (t, store) => {
    const first = await store.reservations.createReservation(reservationInput())
    t.ok(first.ok)
    const later = await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', atMs: AT + WINDOW - 1000 }))
    t.notOk(later.ok)
    const earlier = await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', atMs: AT - WINDOW + 1000 }))
    t.notOk(earlier.ok)
    if (!later.ok) t.same(later.conflicts.map((c) => [c.kind, c.stationId, c.atMs]), [['reservation', 'S1', AT]])
    t.equal((await store.reservations.counts(T0)).reservations, 1)
  })

  check('reservations exactly the window apart on one station are both accepted', async (t, store) => {
    t.ok((await store.reservations.createReservation(reservationInput())).ok)
    t.ok((await store.reservations.createReservation(reservationInput({ atMs: AT + WINDOW }))).ok)
    t.ok((await store.reservations.createReservation(reservationInput({ atMs: AT - WINDOW }))).ok)
    t.equal((await store.reservations.counts(T0)).reservations, 3)
  })

  check('a reservation on one station does not block another station', async (t, store) => {
    t.ok((await store.reservations.createReservation(reservationInput())).ok)
    const other = await store.reservations.createReservation(reservationInput({ candidates: [S2] }))
    t.ok(other.ok)
    if (other.ok) t.equal(other.record.stationId, 'S2')
  })

  check('the first free candidate is booked, in preference order', async (t, store) => {
    t.ok((await store.reservations.createReservation(reservationInput({ candidates: [S1] }))).ok)
    const r = await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', candidates: [S1, S2, S3] }))
    t.ok(r.ok)
    if (r.ok) {
      t.equal(r.record.stationId, 'S2')
      t.same(r.record.position, S2.position)
      t.equal(r.record.vehicleId, 'V2')
      t.equal(r.record.atMs, AT)
      t.equal(r.record.createdAtMs, T0)
      t.equal(r.record.holdId, null)
    }
  })

  check('when every candidate is blocked nothing is written and the blockers are reported', async (t, store) => {
    t.ok((await store.reservations.createReservation(reservationInput({ candidates: [S1] }))).ok)
    t.ok((await store.reservations.placeHold(holdInput({ candidates: [S2] }))).ok)
    const r = await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', candidates: [S1, S2] }))
    t.notOk(r.ok)
    if (!r.ok) t.same(r.conflicts.map((c) => `${c.kind}:${c.stationId}`), ['reservation:S1', 'hold:S2'])
    t.same(await store.reservations.listVehicleReservations('V2', 0), [])
    const none = await store.reservations.createReservation(reservationInput({ candidates: [] }))
    t.same(none, { ok: false, conflicts: [] }, 'an empty candidate list books nothing')
  })

  check('a live hold blocks its station like a reservation', async (t, store) => {
    const h = await store.reservations.placeHold(holdInput())
    t.ok(h.ok)
    const r = await store.reservations.createReservation(reservationInput({ atMs: AT + 60 * MIN, nowMs: T0 + 29_999 }))
    t.notOk(r.ok)
    if (!r.ok) t.match(r.conflicts, [{ kind: 'hold', stationId: 'S1', txStartedAtMs: T0 - 1000 }])
    const h2 = await store.reservations.placeHold(holdInput({ atMs: AT - 60 * MIN }))
    t.notOk(h2.ok, 'a hold blocks another hold')
    t.same(await store.reservations.counts(T0), { reservations: 0, activeHolds: 1 })
  })

  check('a reservation blocks a hold', async (t, store) => {
    t.ok((await store.reservations.createReservation(reservationInput())).ok)
    const h = await store.reservations.placeHold(holdInput({ candidates: [S1, S2] }))
    t.ok(h.ok)
    if (h.ok) t.equal(h.record.stationId, 'S2')
  })

  check('an expired hold does not block (gone once now reaches expiresAt)', async (t, store) => {
    t.ok((await store.reservations.placeHold(holdInput({ expiresAtMs: T0 + 30_000 }))).ok)
    const r = await store.reservations.createReservation(reservationInput({ nowMs: T0 + 30_000 }))
    t.ok(r.ok)
    t.same(await store.reservations.findBookings({ stationIds: ['S1'], atMs: AT, windowMs: WINDOW, nowMs: T0 + 30_000 }).then((b) => b.map((x) => x.kind)), ['reservation'])
    t.equal((await store.reservations.counts(T0 + 30_000)).activeHolds, 0)
  })

  check('a confirmed hold becomes a reservation of the same slot, idempotently', async (t, store) => {
    const h = await store.reservations.placeHold(holdInput({ vehicleId: 'V7' }))
    if (!h.ok) throw new Error('hold refused')
    const c1 = await store.reservations.confirmHold({ holdId: h.record.holdId, reservationId: 'R-conf', nowMs: T0 + 1000 })
    t.match(c1, { status: 'confirmed', reservation: { reservationId: 'R-conf', stationId: 'S1', vehicleId: 'V7', atMs: AT, holdId: h.record.holdId } })
    const c2 = await store.reservations.confirmHold({ holdId: h.record.holdId, reservationId: 'R-other', nowMs: T0 + 60 * MIN })
    t.match(c2, { status: 'confirmed', reservation: { reservationId: 'R-conf' } }, 'a repeated confirm answers the first reservation')
    t.same(await store.reservations.counts(T0 + 60 * MIN), { reservations: 1, activeHolds: 0 })
    const blocked = await store.reservations.createReservation(reservationInput({ nowMs: T0 + 60 * MIN }))
    t.notOk(blocked.ok, 'the confirmed slot stays blocked after the hold TTL')
    t.match(await store.reservations.getHold(h.record.holdId), { reservationId: 'R-conf' })
    t.equal(await store.reservations.releaseHold(h.record.holdId), false, 'a confirmed hold cannot be released')
  })

  check('an expired hold cannot be confirmed', async (t, store) => {
    const h = await store.reservations.placeHold(holdInput({ expiresAtMs: T0 + 30_000 }))
    if (!h.ok) throw new Error('hold refused')
    const c = await store.reservations.confirmHold({ holdId: h.record.holdId, reservationId: 'R-late', nowMs: T0 + 30_000 })
    t.equal(c.status, 'expired')
    t.equal(await store.reservations.getReservation('R-late'), null)
    t.same(await store.reservations.confirmHold({ holdId: 'nope', reservationId: 'R-x', nowMs: T0 }), { status: 'not_found' })
  })

  check('a released hold frees its station', async (t, store) => {
    const h = await store.reservations.placeHold(holdInput())
    if (!h.ok) throw new Error('hold refused')
    t.equal(await store.reservations.releaseHold(h.record.holdId), true)
    t.equal(await store.reservations.releaseHold(h.record.holdId), false, 'releasing twice is a no-op')
    t.equal(await store.reservations.getHold(h.record.holdId), null)
    t.ok((await store.reservations.createReservation(reservationInput())).ok)
  })

  check('only the owner can cancel a reservation', async (t, store) => {
    const r = await store.reservations.createReservation(reservationInput({ vehicleId: 'V1' }))
    if (!r.ok) throw new Error('refused')
    t.equal(await store.reservations.cancelReservation(r.record.reservationId, 'V2'), false)
    t.ok(await store.reservations.getReservation(r.record.reservationId), 'still there')
    t.equal(await store.reservations.cancelReservation('unknown', 'V1'), false)
    t.equal(await store.reservations.cancelReservation(r.record.reservationId, 'V1'), true)
    t.equal(await store.reservations.getReservation(r.record.reservationId), null)
    t.ok((await store.reservations.createReservation(reservationInput({ vehicleId: 'V2' }))).ok, 'the slot is free again')
  })

  check("cancelling all of a vehicle's reservations leaves other vehicles' and older ones", async (t, store) => {
    await store.reservations.createReservation(reservationInput({ vehicleId: 'V1', candidates: [S1] }))
    await store.reservations.createReservation(reservationInput({ vehicleId: 'V1', candidates: [S2] }))
    await store.reservations.createReservation(reservationInput({ vehicleId: 'V1', candidates: [S2], atMs: T0 - 10 * 60 * MIN }))
    await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', candidates: [S3] }))
    t.equal(await store.reservations.cancelVehicleReservations('V1', T0), 2)
    t.equal(await store.reservations.cancelVehicleReservations('V1', T0), 0)
    t.equal((await store.reservations.listVehicleReservations('V1', 0)).length, 1)
    t.equal((await store.reservations.listVehicleReservations('V2', 0)).length, 1)
  })

  check('rule isCancelledWithAll: cancelling all made up to a time leaves the reservations made after it', async (t, store) => {
    const before = await store.reservations.createReservation(reservationInput({ vehicleId: 'V1', candidates: [S1], nowMs: T0 - 1 }))
    const at = await store.reservations.createReservation(reservationInput({ vehicleId: 'V1', candidates: [S2], nowMs: T0 }))
    const after = await store.reservations.createReservation(reservationInput({ vehicleId: 'V1', candidates: [S3], nowMs: T0 + 1 }))
    if (!before.ok || !at.ok || !after.ok) throw new Error('refused')
    t.equal(await store.reservations.cancelVehicleReservations('V1', T0, T0), 2, 'made before and at the bound')
    t.same((await store.reservations.listVehicleReservations('V1', 0)).map((r) => r.reservationId), [after.record.reservationId], 'the one made after it stays')
    t.equal(await store.reservations.cancelVehicleReservations('V1', T0, T0), 0, 'again: nothing more')
    const booked = await store.reservations.findBookings({ stationIds: ['S1', 'S2', 'S3'], atMs: AT, windowMs: WINDOW, nowMs: T0 + 2 })
    t.same(booked.map((b) => b.stationId), ['S3'], 'the stations of the cancelled ones are free again, as findBookings sees them')
    t.equal(await store.reservations.cancelVehicleReservations('V1', T0), 1, 'without a bound: every current one')
  })

  check("a vehicle's list holds only its own reservations, earliest first", async (t, store) => {
    await store.reservations.createReservation(reservationInput({ vehicleId: 'V1', atMs: AT + 5 * 60 * MIN }))
    await store.reservations.createReservation(reservationInput({ vehicleId: 'V1', atMs: AT }))
    await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', candidates: [S2] }))
    const list = await store.reservations.listVehicleReservations('V1', 0)
    t.same(list.map((r) => r.atMs), [AT, AT + 5 * 60 * MIN])
    t.ok(list.every((r) => r.vehicleId === 'V1'))
    t.same((await store.reservations.listVehicleReservations('V1', AT + 1)).map((r) => r.atMs), [AT + 5 * 60 * MIN], 'fromMs filters')
  })

  check('findBookings answers for many stations at once, within the window only', async (t, store) => {
    const many = Array.from({ length: 600 }, (_, i) => station(`M${i}`))
    for (const i of [0, 255, 256, 599]) {
      await store.reservations.createReservation(reservationInput({ candidates: [many[i] as BookingCandidate] }))
    }
    await store.reservations.createReservation(reservationInput({ candidates: [many[10] as BookingCandidate], atMs: AT + WINDOW }))
    await store.reservations.placeHold(holdInput({ candidates: [many[20] as BookingCandidate] }))
    const found = await store.reservations.findBookings({ stationIds: many.map((s) => s.stationId), atMs: AT, windowMs: WINDOW, nowMs: T0 })
    t.same(found.map((b) => b.stationId), ['M0', 'M20', 'M255', 'M256', 'M599'])
    t.same(await store.reservations.findBookings({ stationIds: [], atMs: AT, windowMs: WINDOW, nowMs: T0 }), [])
    const one = await store.reservations.findBookings({ stationIds: ['M10'], atMs: AT + 1, windowMs: WINDOW, nowMs: T0 })
    t.equal(one.length, 1, 'a reservation exactly one window minus 1 ms away is found')
  })

  check('a duplicate reservation id is refused and writes nothing', async (t, store) => {
    t.ok((await store.reservations.createReservation(reservationInput({ reservationId: 'dup' }))).ok)
    await t.rejects(store.reservations.createReservation(reservationInput({ reservationId: 'dup', candidates: [S2] })), { code: 'DUPLICATE_ID' })
    t.equal((await store.reservations.counts(T0)).reservations, 1)
    t.same((await store.reservations.findBookings({ stationIds: ['S2'], atMs: AT, windowMs: WINDOW, nowMs: T0 })), [])
  })

  check('expired holds are deleted by housekeeping, live and confirmed ones kept', async (t, store) => {
    await store.reservations.placeHold(holdInput({ candidates: [S1], expiresAtMs: T0 + 1000 }))
    await store.reservations.placeHold(holdInput({ candidates: [S2], expiresAtMs: T0 + 60_000 }))
    const h3 = await store.reservations.placeHold(holdInput({ candidates: [S3], expiresAtMs: T0 + 1000 }))
    if (h3.ok) await store.reservations.confirmHold({ holdId: h3.record.holdId, reservationId: 'R-h3', nowMs: T0 })
    t.equal(await store.reservations.deleteExpiredHolds(T0 + 1000), 1)
    t.same(await store.reservations.counts(T0 + 1000), { reservations: 1, activeHolds: 1 })
  })

  check('concurrent bookings of one slot: exactly one wins', async (t, store) => {
    const attempts = Array.from({ length: 50 }, (_, i) =>
      store.reservations.createReservation(reservationInput({ vehicleId: `V${i}`, atMs: AT + i * MIN })),
    )
    const results = await Promise.all(attempts)
    t.equal(results.filter((r) => r.ok).length, 1)
  })

  // One check per rule a store may keep in SQL (named as in hub/store/booking-rules.ts), so
  // a new store is checked against the rule, not only against the cases above.

  check('rule withinWindow: exactly windowMs apart is allowed, 1 ms less conflicts, for reservations and holds on either side', async (t, store) => {
    t.ok((await store.reservations.createReservation(reservationInput({ candidates: [S1] }))).ok)
    t.ok((await store.reservations.placeHold(holdInput({ candidates: [S2], expiresAtMs: T0 + 60 * MIN }))).ok)
    for (const s of [S1, S2]) {
      for (const atMs of [AT + WINDOW - 1, AT - WINDOW + 1]) {
        t.notOk((await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', atMs, candidates: [s] }))).ok, `reservation at ${atMs - AT} ms from the booking of ${s.stationId} is refused`)
        t.notOk((await store.reservations.placeHold(holdInput({ atMs, candidates: [s] }))).ok, `hold at ${atMs - AT} ms from the booking of ${s.stationId} is refused`)
      }
      t.same((await store.reservations.findBookings({ stationIds: [s.stationId], atMs: AT + WINDOW - 1, windowMs: WINDOW, nowMs: T0 })).length, 1, 'findBookings sees it 1 ms inside the window')
      t.same(await store.reservations.findBookings({ stationIds: [s.stationId], atMs: AT + WINDOW, windowMs: WINDOW, nowMs: T0 }), [], 'findBookings does not see it exactly windowMs away')
    }
    t.ok((await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', atMs: AT + WINDOW, candidates: [S1] }))).ok)
    t.ok((await store.reservations.placeHold(holdInput({ atMs: AT - WINDOW, candidates: [S1] }))).ok)
    t.ok((await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', atMs: AT - WINDOW, candidates: [S2] }))).ok)
    t.ok((await store.reservations.placeHold(holdInput({ atMs: AT + WINDOW, candidates: [S2] }))).ok)
  })

  check("rule withinWindow: a vehicle's own bookings block it like anyone's", async (t, store) => {
    t.ok((await store.reservations.createReservation(reservationInput({ vehicleId: 'V1' }))).ok)
    t.notOk((await store.reservations.createReservation(reservationInput({ vehicleId: 'V1', atMs: AT + WINDOW - 1 }))).ok)
    t.notOk((await store.reservations.placeHold(holdInput({ vehicleId: 'V1', atMs: AT }))).ok)
  })

  check('rule isLiveHold: a hold blocks until nowMs reaches expiresAtMs, then never (booking, findBookings, counts)', async (t, store) => {
    const exp = T0 + 30_000
    t.ok((await store.reservations.placeHold(holdInput({ expiresAtMs: exp }))).ok)
    const q = (nowMs: number) => store.reservations.findBookings({ stationIds: ['S1'], atMs: AT, windowMs: WINDOW, nowMs })
    t.equal((await q(exp - 1)).length, 1, 'live 1 ms before expiresAt')
    t.equal((await store.reservations.counts(exp - 1)).activeHolds, 1)
    t.notOk((await store.reservations.createReservation(reservationInput({ nowMs: exp - 1 }))).ok)
    t.notOk((await store.reservations.placeHold(holdInput({ nowMs: exp - 1 }))).ok)
    t.same(await q(exp), [], 'gone at expiresAt')
    t.equal((await store.reservations.counts(exp)).activeHolds, 0)
    t.ok((await store.reservations.placeHold(holdInput({ nowMs: exp, expiresAtMs: exp + 30_000 }))).ok, 'an expired hold blocks no hold')
  })

  check('rule isLiveHold: a confirmed hold blocks as its reservation, never as a hold', async (t, store) => {
    const h = await store.reservations.placeHold(holdInput({ expiresAtMs: T0 + 30_000 }))
    if (!h.ok) throw new Error('hold refused')
    await store.reservations.confirmHold({ holdId: h.record.holdId, reservationId: 'R-live', nowMs: T0 })
    for (const nowMs of [T0, T0 + 30_000, T0 + 60 * MIN]) {
      const found = await store.reservations.findBookings({ stationIds: ['S1'], atMs: AT, windowMs: WINDOW, nowMs })
      t.same(found.map((b) => [b.kind, b.id]), [['reservation', 'R-live']], `one booking, the reservation, at now+${nowMs - T0} ms`)
      t.same(await store.reservations.counts(nowMs), { reservations: 1, activeHolds: 0 })
    }
    t.equal(await store.reservations.deleteExpiredHolds(T0 + 60 * MIN), 0, 'housekeeping keeps a confirmed hold')
    t.match(await store.reservations.getHold(h.record.holdId), { reservationId: 'R-live' })
    t.ok(await store.reservations.cancelReservation('R-live', 'V9'))
    t.same(await store.reservations.findBookings({ stationIds: ['S1'], atMs: AT, windowMs: WINDOW, nowMs: T0 }), [], 'once its reservation is cancelled the confirmed hold blocks nothing')
    t.same(await store.reservations.confirmHold({ holdId: h.record.holdId, reservationId: 'R-again', nowMs: T0 }), { status: 'not_found' }, 'nor is it confirmed again')
  })

  check('rule isExpiredHold: housekeeping deletes an unconfirmed hold from expiresAtMs on, not 1 ms before', async (t, store) => {
    const h = await store.reservations.placeHold(holdInput({ expiresAtMs: T0 + 1000 }))
    if (!h.ok) throw new Error('hold refused')
    t.equal(await store.reservations.deleteExpiredHolds(T0 + 999), 0)
    t.ok(await store.reservations.getHold(h.record.holdId))
    t.equal(await store.reservations.deleteExpiredHolds(T0 + 1000), 1)
    t.equal(await store.reservations.getHold(h.record.holdId), null)
  })

  check('rule confirmDecision: the reservation copies station, vehicle, position and time from the hold; created at nowMs', async (t, store) => {
    const P = station('SP', 1.5, 2.5)
    const h = await store.reservations.placeHold(holdInput({ vehicleId: 'V4', candidates: [P], expiresAtMs: T0 + 2000 }))
    if (!h.ok) throw new Error('hold refused')
    const c = await store.reservations.confirmHold({ holdId: h.record.holdId, reservationId: 'R-copy', nowMs: T0 + 1999 })
    const want = { reservationId: 'R-copy', stationId: 'SP', vehicleId: 'V4', position: { lat: 1.5, lon: 2.5 }, atMs: AT, createdAtMs: T0 + 1999, holdId: h.record.holdId }
    t.same(c, { status: 'confirmed', reservation: want })
    t.same(await store.reservations.getReservation('R-copy'), want)
  })

  check('rule isLiveVehicleBooking: a vehicle counts reservations with atMs >= fromMs and holds live at nowMs, not other vehicles\' bookings', async (t, store) => {
    const q = { vehicleId: 'V1', fromMs: AT, nowMs: T0 }
    t.equal(await store.reservations.countVehicleBookings(q), 0)
    t.ok((await store.reservations.createReservation(reservationInput())).ok)
    t.ok((await store.reservations.createReservation(reservationInput({ atMs: AT + WINDOW }))).ok)
    t.ok((await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', candidates: [S2] }))).ok)
    const h = await store.reservations.placeHold(holdInput({ vehicleId: 'V1', candidates: [S3], expiresAtMs: T0 + 1000 }))
    if (!h.ok) throw new Error('hold refused')
    t.equal(await store.reservations.countVehicleBookings(q), 3)
    t.equal(await store.reservations.countVehicleBookings({ ...q, fromMs: AT + 1 }), 2, 'a reservation before fromMs has passed')
    t.equal(await store.reservations.countVehicleBookings({ ...q, nowMs: T0 + 1000 }), 2, 'a hold stops counting at expiresAtMs')
    t.equal((await store.reservations.confirmHold({ holdId: h.record.holdId, reservationId: 'R-c', nowMs: T0 })).status, 'confirmed')
    t.equal(await store.reservations.countVehicleBookings({ ...q, nowMs: T0 + 1000 }), 3, 'a confirmed hold counts once, as its reservation')
    t.ok(await store.reservations.cancelReservation('R-c', 'V1'))
    t.equal(await store.reservations.countVehicleBookings(q), 2, 'a cancelled reservation does not count')
  })

  check('a store that checks the limit in the booking (limitsInBooking) books nothing at it and answers overLimit; below it books', async (t, store) => {
    if (!store.reservations.limitsInBooking) {
      t.pass('this store leaves the limit to its caller')
      return
    }
    const limit = { max: 2, fromMs: AT }
    t.ok((await store.reservations.createReservation(reservationInput({ limit }))).ok)
    t.ok((await store.reservations.placeHold(holdInput({ vehicleId: 'V1', candidates: [S2], limit }))).ok, 'a hold is a booking like a reservation')
    const before = await store.reservations.counts(T0)
    t.same(await store.reservations.createReservation(reservationInput({ candidates: [S3], limit })), { ok: false, conflicts: [], overLimit: 2 })
    t.same(await store.reservations.placeHold(holdInput({ vehicleId: 'V1', candidates: [S3], limit })), { ok: false, conflicts: [], overLimit: 2 })
    t.same(await store.reservations.counts(T0), before, 'nothing was written')
    t.ok((await store.reservations.createReservation(reservationInput({ vehicleId: 'V2', candidates: [S3], limit }))).ok, 'another vehicle is counted apart')
    t.ok((await store.reservations.createReservation(reservationInput({ candidates: [station('S4', -12.4, -38.8)], limit: { max: 2, fromMs: AT + 1 } }))).ok, 'a reservation before fromMs no longer counts')
  })

  check('a closed store rejects every call with CLOSED', async (t, store) => {
    await store.close()
    await store.close()
    const err = await store.reservations.createReservation(reservationInput()).then(
      () => null,
      (e: unknown) => e,
    )
    t.ok(err instanceof StoreError && err.code === 'CLOSED', 'rejects with StoreError CLOSED')
    await t.rejects(store.reservations.counts(T0), { code: 'CLOSED' })
    await t.rejects(store.ping(), { code: 'CLOSED' })
  })
}
