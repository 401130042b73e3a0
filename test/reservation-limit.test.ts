/**
 * What one vehicle may book at a hub (docs/protocol.md "Reservation rules"):
 * at most `rules.maxReservationsPerVehicle` live bookings (RESERVATION_LIMIT)
 * and `at` at most `rules.maxAdvanceDays` ahead (TOO_FAR_AHEAD), through the
 * op handler table, against every store.
 */
import t, { type Test } from 'tap'
import { TestClock } from '../hub/clock.js'
import { createHubContext, type HubContext } from '../hub/ops/index.js'
import { HERE, MIN, NOW, STORE_KINDS, TEST_STATIONS, inMinutes, testConfig, testHub, type TestHub } from './helpers/store-hub.js'
import { tempSqlite } from './helpers/store-sqlite.js'

const DAY = 24 * 60 * MIN

async function snapshot(hub: TestHub): Promise<unknown> {
  const r = hub.store.reservations
  return {
    V1: await r.listVehicleReservations('V1', 0),
    counts: await r.counts(hub.clock.now()),
    bookings: await r.findBookings({ stationIds: TEST_STATIONS.map((s) => s.stationId), atMs: hub.clock.now(), windowMs: 1e12, nowMs: hub.clock.now() }),
  }
}

/** `n` reservations of V1 at NEAR, 2 h apart from 3 h on. */
async function bookMany(hub: TestHub, n: number, vehicleId = 'V1'): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await hub.call('reservation.create', { at: inMinutes(hub.clock, 180 + 120 * i), position: HERE, rangeKm: 10, stationId: vehicleId === 'V1' ? 'NEAR' : 'MID' }, vehicleId)
    ids.push(r.reservation.reservationId)
  }
  return ids
}

for (const kind of STORE_KINDS) {
  const test = (name: string, body: (t: Test, hub: TestHub) => Promise<void>, limit = 3): void => {
    t.test(`[${kind}] ${name}`, async (t) => {
      const hub = await testHub(kind, testConfig({ rules: { maxReservationsPerVehicle: limit } }))
      t.teardown(() => hub.dispose())
      await body(t, hub)
    })
  }

  test('a vehicle at its limit is refused with RESERVATION_LIMIT, and nothing changes', async (t, hub) => {
    await bookMany(hub, 3)
    for (const args of [
      { at: inMinutes(hub.clock, 180 + 120 * 3), position: HERE, rangeKm: 10, stationId: 'NEAR' },
      { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 50 },
    ]) {
      const before = await snapshot(hub)
      const e = await hub.callError('reservation.create', args)
      t.equal(e.code, 'RESERVATION_LIMIT')
      t.match(e.details, { limit: 3, live: 3 })
      t.same(await snapshot(hub), before, 'nothing was written')
    }
    t.equal((await hub.call('reservation.list', {})).reservations.length, 3)
    // Another vehicle has its own count.
    await bookMany(hub, 3, 'V2')
  })

  test('a cancelled reservation frees a place', async (t, hub) => {
    const ids = await bookMany(hub, 3)
    await hub.call('reservation.cancel', { reservationId: ids[1] as string })
    const r = await hub.call('reservation.create', { at: inMinutes(hub.clock, 180 + 120 * 5), position: HERE, rangeKm: 10, stationId: 'NEAR' })
    t.equal(r.reservation.stationId, 'NEAR')
    t.equal((await hub.callError('reservation.create', { at: inMinutes(hub.clock, 180 + 120 * 7), position: HERE, rangeKm: 10, stationId: 'NEAR' })).code, 'RESERVATION_LIMIT')
  })

  test('a reservation whose window has ended frees a place; one still in its window does not', async (t, hub) => {
    await bookMany(hub, 3)
    // The first is at +180 min, its window ends 120 min later: at +300 min it is still current.
    hub.clock.advance(300 * MIN)
    t.equal((await hub.callError('reservation.create', { at: inMinutes(hub.clock, 600), position: HERE, rangeKm: 10, stationId: 'MID' })).code, 'RESERVATION_LIMIT')
    hub.clock.advance(1)
    const r = await hub.call('reservation.create', { at: inMinutes(hub.clock, 600), position: HERE, rangeKm: 10, stationId: 'MID' })
    t.equal(r.reservation.stationId, 'MID')
  })

  test('a live hold of the vehicle counts; an expired one does not', async (t, hub) => {
    await bookMany(hub, 2)
    const mid = hub.ctx.stations.get('MID')
    if (!mid) throw new Error('MID')
    const now = hub.clock.now()
    const held = await hub.store.reservations.placeHold({
      holdId: 'h-1', txId: 'tx-1', txStartedAtMs: now, vehicleId: 'V1', atMs: now + 600 * MIN,
      candidates: [{ stationId: 'MID', position: mid.position }], windowMs: hub.ctx.rules.windowMs, nowMs: now, expiresAtMs: now + 30_000,
    })
    t.ok(held.ok)
    t.equal((await hub.callError('reservation.create', { at: inMinutes(hub.clock, 900), position: HERE, rangeKm: 50, stationId: 'FAR' })).code, 'RESERVATION_LIMIT')
    hub.clock.advance(30_000)
    t.ok(await hub.call('reservation.create', { at: inMinutes(hub.clock, 900), position: HERE, rangeKm: 50, stationId: 'FAR' }))
  })

  test('year 9999 is TOO_FAR_AHEAD (details: the latest allowed at); the last allowed minute is accepted', async (t, hub) => {
    const before = await snapshot(hub)
    const e = await hub.callError('reservation.create', { at: '9999-01-01T00:00:00Z', position: HERE, rangeKm: 10, stationId: 'NEAR' })
    t.equal(e.code, 'TOO_FAR_AHEAD')
    t.match(e.details, { latest: inMinutes(hub.clock, 30 * DAY / MIN), maxAdvanceDays: 30 })
    t.same(await snapshot(hub), before, 'nothing was written')
    t.equal((await hub.callError('reservation.create', { at: inMinutes(hub.clock, 30 * DAY / MIN + 1), position: HERE, rangeKm: 10 })).code, 'TOO_FAR_AHEAD')
    const last = await hub.call('reservation.create', { at: inMinutes(hub.clock, 30 * DAY / MIN), position: HERE, rangeKm: 10, stationId: 'NEAR' })
    t.equal(last.reservation.at, inMinutes(hub.clock, 30 * DAY / MIN))
  })

  test('concurrent creates of one vehicle never exceed the limit', async (t, hub) => {
    const tries = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => hub.call('reservation.create', { at: inMinutes(hub.clock, 180 + 120 * i), position: HERE, rangeKm: 50 })),
    )
    const ok = tries.filter((r) => r.status === 'fulfilled').length
    const refused = tries.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'RESERVATION_LIMIT').length
    t.equal(ok, 5)
    t.equal(refused, 25)
    t.equal((await hub.store.reservations.listVehicleReservations('V1', 0)).length, 5)
  }, 5)
}

t.test('rules.maxAdvanceDays and rules.maxReservationsPerVehicle: defaults 30 and 20, bounded', async (t) => {
  const c = testConfig()
  t.equal(c.rules.maxAdvanceDays, 30)
  t.equal(c.rules.maxReservationsPerVehicle, 20)
  t.throws(() => testConfig({ rules: { maxAdvanceDays: 0 } }))
  t.throws(() => testConfig({ rules: { maxAdvanceDays: 3661 } }))
  t.throws(() => testConfig({ rules: { maxReservationsPerVehicle: 0 } }))
})

t.test('SQLite: concurrent creates of one vehicle through two connections to one file (two hub processes) stop exactly at the limit', async (t) => {
  const file = tempSqlite()
  t.teardown(() => file.dispose())
  const config = testConfig({ rules: { maxReservationsPerVehicle: 5 } })
  const clock = new TestClock(NOW)
  let n = 0
  const contexts: HubContext[] = [0, 1].map(() => createHubContext({ config, store: file.open(), clock, newReservationId: () => `r${++n}` }))
  const tries = await Promise.allSettled(
    Array.from({ length: 30 }, (_, i) => (contexts[i % 2] as HubContext).reservations.create('V1', { at: inMinutes(clock, 180 + 120 * i), position: HERE, rangeKm: 50 })),
  )
  t.equal(tries.filter((r) => r.status === 'fulfilled').length, 5)
  t.equal(tries.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'RESERVATION_LIMIT').length, 25)
  t.equal((await (contexts[1] as HubContext).store.reservations.listVehicleReservations('V1', 0)).length, 5, 'the limit, whichever connection booked')
})
