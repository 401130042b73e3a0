/**
 * docs/protocol.md "Reservation rules", one test per rule, through the op handler
 * table (as a vehicle would call it, minus the broker), against every store.
 */
import t, { type Test } from 'tap'
import { HERE, MIN, STORE_KINDS, TEST_STATIONS, inMinutes, testHub, type TestHub } from './helpers/store-hub.js'

const SEC = 1000

async function holdAt(hub: TestHub, stationId: string, atMs: number, ttlMs: number): Promise<void> {
  const s = hub.ctx.stations.get(stationId)
  if (!s) throw new Error(stationId)
  const r = await hub.store.reservations.placeHold({
    holdId: `h-${stationId}-${atMs}`,
    txId: 'tx-1',
    txStartedAtMs: hub.clock.now(),
    vehicleId: 'V-remote',
    atMs,
    candidates: [{ stationId, position: s.position }],
    windowMs: hub.ctx.rules.windowMs,
    nowMs: hub.clock.now(),
    expiresAtMs: hub.clock.now() + ttlMs,
  })
  if (!r.ok) throw new Error('hold refused')
}

/** Everything a rule could change, for "errors change no state". */
async function snapshot(hub: TestHub): Promise<unknown> {
  const r = hub.store.reservations
  return {
    V1: await r.listVehicleReservations('V1', 0),
    V2: await r.listVehicleReservations('V2', 0),
    counts: await r.counts(hub.clock.now()),
    bookings: await r.findBookings({ stationIds: TEST_STATIONS.map((s) => s.stationId), atMs: hub.clock.now(), windowMs: 1e12, nowMs: hub.clock.now() }),
  }
}

for (const kind of STORE_KINDS) {
  const test = (name: string, body: (t: Test, hub: TestHub) => Promise<void>): void => {
    t.test(`[${kind}] ${name}`, async (t) => {
      const hub = await testHub(kind)
      t.teardown(() => hub.dispose())
      await body(t, hub)
    })
  }

  test('a reservation exactly 120 min before or after another of the same station is allowed', async (t, hub) => {
    await hub.call('reservation.create', { at: inMinutes(hub.clock, 300), position: HERE, rangeKm: 10, stationId: 'NEAR' }, 'V2')
    const after = await hub.call('reservation.create', { at: inMinutes(hub.clock, 420), position: HERE, rangeKm: 10, stationId: 'NEAR' })
    t.equal(after.reservation.stationId, 'NEAR')
    const before = await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10, stationId: 'NEAR' })
    t.equal(before.reservation.stationId, 'NEAR')
  })

  test('a reservation 119 min 59 s from another of the same station is a RESERVATION_CONFLICT', async (t, hub) => {
    await hub.call('reservation.create', { at: inMinutes(hub.clock, 300), position: HERE, rangeKm: 10, stationId: 'NEAR' }, 'V2')
    const later = await hub.callError('reservation.create', { at: inMinutes(hub.clock, 300 + 119 + 59 / 60), position: HERE, rangeKm: 10, stationId: 'NEAR' })
    t.equal(later.code, 'RESERVATION_CONFLICT')
    t.match(later.details, { stationId: 'NEAR', windowMinutes: 120 })
    t.notOk(JSON.stringify(later.details).includes('V2'), 'the error does not name the other vehicle')
    const earlier = await hub.callError('reservation.create', { at: inMinutes(hub.clock, 300 - 119 - 59 / 60), position: HERE, rangeKm: 10, stationId: 'NEAR' })
    t.equal(earlier.code, 'RESERVATION_CONFLICT', 'the window reaches back as far as forward')
    const same = await hub.callError('reservation.create', { at: inMinutes(hub.clock, 300), position: HERE, rangeKm: 10, stationId: 'NEAR' }, 'V2')
    t.equal(same.code, 'RESERVATION_CONFLICT', 'the same vehicle cannot double-book a station either')
  })

  test('a reservation exactly 120 min ahead is accepted', async (t, hub) => {
    const r = await hub.call('reservation.create', { at: inMinutes(hub.clock, 120), position: HERE, rangeKm: 10 })
    t.equal(r.reservation.at, '2026-11-24T14:00:00Z')
  })

  test('a reservation 119 min 59 s ahead is TOO_SOON', async (t, hub) => {
    const e = await hub.callError('reservation.create', { at: inMinutes(hub.clock, 119 + 59 / 60), position: HERE, rangeKm: 10 })
    t.equal(e.code, 'TOO_SOON')
    t.match(e.details, { earliest: '2026-11-24T14:00:00Z', minLeadMinutes: 120 })
    t.equal((await hub.callError('reservation.create', { at: inMinutes(hub.clock, -60), position: HERE, rangeKm: 10 })).code, 'TOO_SOON', 'a past time too')
  })

  test('an unreadable time is BAD_REQUEST, even when the service is called directly', async (t, hub) => {
    await t.rejects(hub.ctx.reservations.create('V1', { at: 'tomorrow', position: HERE, rangeKm: 10 }), { code: 'BAD_REQUEST' })
  })

  test('lead time follows the injected clock', async (t, hub) => {
    const at = inMinutes(hub.clock, 130)
    hub.clock.advanceMinutes(10)
    hub.clock.advanceSeconds(1)
    t.equal((await hub.callError('reservation.create', { at, position: HERE, rangeKm: 10 })).code, 'TOO_SOON')
  })

  test('a reservation carries its window: windowStart = at - 120 min, windowEnd = at + 120 min', async (t, hub) => {
    const { reservation } = await hub.call('reservation.create', { at: '2026-11-24T18:00:00+00:00', position: HERE, rangeKm: 10, stationId: 'MID' })
    t.match(reservation, {
      stationId: 'MID',
      hubId: 'feira',
      vehicleId: 'V1',
      position: TEST_STATIONS[1]?.position,
      at: '2026-11-24T18:00:00Z',
      windowStart: '2026-11-24T16:00:00Z',
      windowEnd: '2026-11-24T20:00:00Z',
    })
  })

  test('without a station, the nearest free station in range is picked', async (t, hub) => {
    const at = inMinutes(hub.clock, 180)
    const first = await hub.call('reservation.create', { at, position: HERE, rangeKm: 50 }, 'V2')
    t.equal(first.reservation.stationId, 'NEAR')
    const second = await hub.call('reservation.create', { at, position: HERE, rangeKm: 50 })
    t.equal(second.reservation.stationId, 'MID', 'the nearest one is reserved, so the next one')
    const third = await hub.call('reservation.create', { at: inMinutes(hub.clock, 300), position: HERE, rangeKm: 50 })
    t.equal(third.reservation.stationId, 'NEAR', 'a window later the nearest is free again')
  })

  test('a named station beyond rangeKm is OUT_OF_RANGE', async (t, hub) => {
    const e = await hub.callError('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 50, stationId: 'AWAY' })
    t.equal(e.code, 'OUT_OF_RANGE')
    t.match(e.details, { stationId: 'AWAY', rangeKm: 50 })
  })

  test('an unknown named station is NOT_FOUND', async (t, hub) => {
    const e = await hub.callError('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 50, stationId: 'NOPE' })
    t.equal(e.code, 'NOT_FOUND')
  })

  test('no station within rangeKm is NO_STATION_AVAILABLE', async (t, hub) => {
    const e = await hub.callError('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 1 })
    t.equal(e.code, 'NO_STATION_AVAILABLE')
    t.match(e.details, { rangeKm: 1, stationsInRange: 0 })
  })

  test('every station in range booked is NO_STATION_AVAILABLE', async (t, hub) => {
    const at = inMinutes(hub.clock, 180)
    await hub.call('reservation.create', { at, position: HERE, rangeKm: 10 }, 'V2')
    await hub.call('reservation.create', { at, position: HERE, rangeKm: 10 }, 'V2')
    const e = await hub.callError('reservation.create', { at, position: HERE, rangeKm: 10 })
    t.equal(e.code, 'NO_STATION_AVAILABLE')
    t.match(e.details, { stationsInRange: 2 })
  })

  test("a vehicle cannot see another vehicle's reservations", async (t, hub) => {
    await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10 }, 'V2')
    const mine = await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10 }, 'V1')
    t.same((await hub.call('reservation.list', {}, 'V1')).reservations, [mine.reservation])
    t.same((await hub.call('reservation.list', {}, 'V3')).reservations, [])
  })

  test("a vehicle cannot cancel another vehicle's reservation: NOT_FOUND", async (t, hub) => {
    const theirs = await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10 }, 'V2')
    const id = theirs.reservation.reservationId
    t.equal((await hub.callError('reservation.cancel', { reservationId: id }, 'V1')).code, 'NOT_FOUND')
    t.equal((await hub.callError('reservation.cancel', { reservationId: 'never-made' }, 'V1')).code, 'NOT_FOUND')
    t.equal((await hub.call('reservation.list', {}, 'V2')).reservations.length, 1, 'still there')
    t.same(await hub.call('reservation.cancel', { reservationId: id }, 'V2'), { cancelled: 1 })
    t.same((await hub.call('reservation.list', {}, 'V2')).reservations, [])
  })

  test('a cancelled reservation frees its slot', async (t, hub) => {
    const at = inMinutes(hub.clock, 180)
    const r = await hub.call('reservation.create', { at, position: HERE, rangeKm: 10, stationId: 'NEAR' }, 'V2')
    await hub.call('reservation.cancel', { reservationId: r.reservation.reservationId }, 'V2')
    t.equal((await hub.call('reservation.create', { at, position: HERE, rangeKm: 10, stationId: 'NEAR' })).reservation.stationId, 'NEAR')
  })

  test("cancel all cancels only the vehicle's own current reservations and says how many", async (t, hub) => {
    await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10 }, 'V1')
    await hub.call('reservation.create', { at: inMinutes(hub.clock, 600), position: HERE, rangeKm: 10 }, 'V1')
    await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10 }, 'V2')
    t.same(await hub.call('reservation.cancel', { all: true }, 'V1'), { cancelled: 2 })
    t.same(await hub.call('reservation.cancel', { all: true }, 'V1'), { cancelled: 0 })
    t.equal((await hub.call('reservation.list', {}, 'V2')).reservations.length, 1)
  })

  test("reservation.list shows a reservation until its window ends, earliest first", async (t, hub) => {
    await hub.call('reservation.create', { at: inMinutes(hub.clock, 600), position: HERE, rangeKm: 10 })
    await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10 })
    t.same((await hub.call('reservation.list', {})).reservations.map((r) => r.at), ['2026-11-24T15:00:00Z', '2026-11-24T22:00:00Z'])
    hub.clock.advanceMinutes(180 + 120)
    t.equal((await hub.call('reservation.list', {})).reservations.length, 2, 'at windowEnd it is still listed')
    hub.clock.advanceSeconds(1)
    t.same((await hub.call('reservation.list', {})).reservations.map((r) => r.at), ['2026-11-24T22:00:00Z'])
  })

  test('a hold blocks its station like a reservation', async (t, hub) => {
    const atMs = hub.clock.now() + 180 * MIN
    await holdAt(hub, 'NEAR', atMs, 30 * SEC)
    const at = inMinutes(hub.clock, 180 + 60)
    t.equal((await hub.callError('reservation.create', { at, position: HERE, rangeKm: 10, stationId: 'NEAR' })).code, 'RESERVATION_CONFLICT')
    t.equal((await hub.call('reservation.create', { at, position: HERE, rangeKm: 10 })).reservation.stationId, 'MID', 'nearest-free skips it')
    const near = await hub.call('station.nearest', { position: HERE, rangeKm: 10, at })
    t.same(near.stations.map((s) => [s.stationId, s.free]), [['NEAR', false], ['MID', false]])
  })

  test('an expired hold does not block', async (t, hub) => {
    const atMs = hub.clock.now() + 180 * MIN
    await holdAt(hub, 'NEAR', atMs, 30 * SEC)
    hub.clock.advanceSeconds(30)
    const at = inMinutes(hub.clock, 180)
    t.equal((await hub.call('reservation.create', { at, position: HERE, rangeKm: 10, stationId: 'NEAR' })).reservation.stationId, 'NEAR')
  })

  test('the vehicle is the one of the request, never one named in the args', async (t, hub) => {
    const args = { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10, vehicleId: 'V2' }
    const r = await hub.call('reservation.create', args, 'V1')
    t.equal(r.reservation.vehicleId, 'V1')
    t.same((await hub.call('reservation.list', {}, 'V2')).reservations, [])
  })

  t.test(`[${kind}] every user-caused error changes no state`, async (t) => {
    const hub = await testHub(kind)
    t.teardown(() => hub.dispose())
    const theirs = await hub.call('reservation.create', { at: inMinutes(hub.clock, 300), position: HERE, rangeKm: 10, stationId: 'NEAR' }, 'V2')
    await hub.call('reservation.create', { at: inMinutes(hub.clock, 300), position: HERE, rangeKm: 10, stationId: 'MID' }, 'V1')
    await holdAt(hub, 'FAR', hub.clock.now() + 300 * MIN, 60 * SEC)
    const at = inMinutes(hub.clock, 300)
    const cases = [
      { code: 'TOO_SOON', run: () => hub.callError('reservation.create', { at: inMinutes(hub.clock, 119.99), position: HERE, rangeKm: 50 }) },
      { code: 'NOT_FOUND', run: () => hub.callError('reservation.create', { at, position: HERE, rangeKm: 50, stationId: 'NOPE' }) },
      { code: 'OUT_OF_RANGE', run: () => hub.callError('reservation.create', { at, position: HERE, rangeKm: 50, stationId: 'AWAY' }) },
      { code: 'RESERVATION_CONFLICT', run: () => hub.callError('reservation.create', { at, position: HERE, rangeKm: 50, stationId: 'NEAR' }) },
      { code: 'RESERVATION_CONFLICT', run: () => hub.callError('reservation.create', { at, position: HERE, rangeKm: 50, stationId: 'FAR' }) },
      { code: 'NO_STATION_AVAILABLE', run: () => hub.callError('reservation.create', { at, position: HERE, rangeKm: 50 }) },
      { code: 'NO_STATION_AVAILABLE', run: () => hub.callError('reservation.create', { at, position: HERE, rangeKm: 0.5 }) },
      { code: 'NOT_FOUND', run: () => hub.callError('reservation.cancel', { reservationId: theirs.reservation.reservationId }) },
      { code: 'NOT_FOUND', run: () => hub.callError('reservation.cancel', { reservationId: 'unknown' }) },
    ] as const
    for (const c of cases) {
      const before = await snapshot(hub)
      t.equal((await c.run()).code, c.code)
      t.same(await snapshot(hub), before, `${c.code} left the store as it was`)
    }
  })
}

t.test('restart keeps reservations (close and reopen the SQLite store)', async (t) => {
  const hub = await testHub('sqlite')
  t.teardown(() => hub.dispose())
  const at = inMinutes(hub.clock, 180)
  const made = await hub.call('reservation.create', { at, position: HERE, rangeKm: 10, stationId: 'NEAR' })
  await hub.restart()
  t.same((await hub.call('reservation.list', {})).reservations, [made.reservation])
  t.equal((await hub.callError('reservation.create', { at, position: HERE, rangeKm: 10, stationId: 'NEAR' }, 'V2')).code, 'RESERVATION_CONFLICT')
  t.same(await hub.call('reservation.cancel', { reservationId: made.reservation.reservationId }), { cancelled: 1 })
})

// One vehicle cannot grow the table without limit, lock every slot for years, or make its own
// reservation.list answer grow: rules.maxReservationsPerVehicle and rules.maxAdvanceDays (defaults 20 and 30 days).
t.test('one vehicle cannot book without limit: its current reservations and how far ahead it books are bounded', async (t) => {
  const hub = await testHub('sqlite')
  t.teardown(() => hub.dispose())
  let accepted = 0
  for (let i = 0; i < 300; i++) {
    try {
      await hub.call('reservation.create', { at: inMinutes(hub.clock, 120 + 120 * i), position: HERE, rangeKm: 10, stationId: 'NEAR' })
      accepted++
    } catch {
      break
    }
  }
  t.ok(accepted < 300, `one vehicle was refused before 300 reservations (accepted ${accepted})`)
  const far = await hub.callError('reservation.create', { at: '9999-01-01T00:00:00Z', position: HERE, rangeKm: 10, stationId: 'MID' }).catch(() => ({ code: 'accepted' }))
  t.not(far.code, 'accepted', 'a booking in year 9999 is refused with a coded error')
  t.ok((await hub.store.reservations.counts(hub.clock.now())).reservations < 300, 'the table holds fewer than 300 rows of that vehicle')
})
