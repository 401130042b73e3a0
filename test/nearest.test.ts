/** station.nearest: range, order, limit, `free` at a time, great-circle distances, large indexes. */
import t from 'tap'
import { distanceKm, SpatialIndex, StationRegistry } from '../hub/stations/index.js'
import { MemoryStore } from '../hub/store/index.js'
import { findNearest } from '../hub/stations/index.js'
import { HERE, MIN, NOW_MS, inMinutes, testConfig, testHub } from './helpers/store-hub.js'
import prand from 'pure-rand'

t.test('station.nearest answers only stations within rangeKm, nearest first', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  const r = await hub.call('station.nearest', { position: HERE, rangeKm: 30 })
  t.same(r.stations.map((s) => s.stationId), ['NEAR', 'MID', 'FAR'])
  t.ok(r.stations.every((s) => s.distanceKm <= 30))
  t.ok(r.stations.every((s, i, a) => i === 0 || (a[i - 1]?.distanceKm ?? 0) <= s.distanceKm))
  t.match(r.stations[0], { hubId: 'feira', currency: 'BRL', powerKw: 22, priceMinorPerKwh: 73, online: false, free: true })
  t.same((await hub.call('station.nearest', { position: HERE, rangeKm: 0.5 })).stations, [])
})

t.test('station.nearest gives each distance to the metre, the great-circle distance rounded', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  const r = await hub.call('station.nearest', { position: HERE, rangeKm: 30 })
  t.ok(r.stations.length > 0)
  for (const s of r.stations) {
    t.equal(s.distanceKm, Math.round(distanceKm(HERE, s.position) * 1000) / 1000, `${s.stationId}: ${s.distanceKm} km`)
    t.ok((String(s.distanceKm).split('.')[1] ?? '').length <= 3, 'at most three decimals')
  }
})

t.test('station.nearest returns at most limit stations (default 5)', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  t.equal((await hub.call('station.nearest', { position: HERE, rangeKm: 500, limit: 2 })).stations.length, 2)
  t.equal((await hub.call('station.nearest', { position: HERE, rangeKm: 500 })).stations.length, 4)
})

t.test('a station is not free at times within the window of a reservation, free exactly a window away', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  await hub.call('reservation.create', { at: inMinutes(hub.clock, 300), position: HERE, rangeKm: 10, stationId: 'NEAR' }, 'V2')
  const freeAt = async (minutes: number): Promise<boolean | undefined> =>
    (await hub.call('station.nearest', { position: HERE, rangeKm: 2, at: inMinutes(hub.clock, minutes) })).stations[0]?.free
  t.equal(await freeAt(300), false)
  t.equal(await freeAt(300 + 119 + 59 / 60), false)
  t.equal(await freeAt(300 - 119 - 59 / 60), false)
  t.equal(await freeAt(420), true)
  t.equal(await freeAt(180), true)
})

t.test('free defaults to now', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10, stationId: 'NEAR' }, 'V2')
  t.equal((await hub.call('station.nearest', { position: HERE, rangeKm: 2 })).stations[0]?.free, true, 'three hours before: free now')
  hub.clock.advanceMinutes(61)
  t.equal((await hub.call('station.nearest', { position: HERE, rangeKm: 2 })).stations[0]?.free, false, 'inside the window now')
})

t.test('free defaults to when the request came in (RequestContext.receivedAtMs), not to when its turn to run came', async (t) => {
  const hub = await testHub('sqlite')
  t.teardown(() => hub.dispose())
  await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 10, stationId: 'NEAR' }, 'V2')
  const nearest = hub.handlers['station.nearest']
  if (!nearest) throw new Error('no station.nearest')
  const args = { position: HERE, rangeKm: 2, limit: 5 }
  const came = { receivedAt: performance.now(), receivedAtMs: hub.clock.now() }
  hub.clock.advanceMinutes(61)
  const req = { hubId: 'feira', vehicleId: 'V1', requestId: 'n-1', op: 'station.nearest' as const }
  t.equal((await nearest(args, { ...req, ...came })).stations[0]?.free, true, 'came in three hours before the reservation: free then')
  t.equal((await nearest(args, req)).stations[0]?.free, false, 'without a receipt time: as of now, inside the window')
})

t.test('the nearest search asks the store once per query, whatever the number of stations', async (t) => {
  const store = new MemoryStore()
  const findBookings = store.reservations.findBookings.bind(store.reservations)
  let calls = 0
  store.reservations.findBookings = (q) => {
    calls++
    return findBookings(q)
  }
  const stations = new StationRegistry({
    hubId: 'h',
    currency: 'BRL',
    stations: Array.from({ length: 500 }, (_, i) => ({ stationId: `S${i}`, position: { lat: -12 + i * 0.001, lon: -38.9 }, powerKw: 22, priceMinorPerKwh: 70 })),
  })
  const res = await findNearest(stations, store, { position: { lat: -12, lon: -38.9 }, rangeKm: 1000, limit: 100, atMs: NOW_MS, nowMs: NOW_MS, windowMs: 120 * MIN })
  t.equal(res.length, 100)
  t.equal(calls, 1)
})

t.test('distances are great-circle kilometres', async (t) => {
  // Feira de Santana -> Salvador is about 100 km as the crow flies.
  const d = distanceKm({ lat: -12.2664, lon: -38.9663 }, { lat: -12.9714, lon: -38.5014 })
  t.ok(d > 90 && d < 100, `${d} km`)
  t.ok(Math.abs(distanceKm({ lat: 0, lon: 0 }, { lat: 0, lon: 1 }) - 111.19) < 0.01, 'one degree of the equator is ~111.19 km')
  const idx = new SpatialIndex([{ position: { lat: 10, lon: 179.9 } }, { position: { lat: 10, lon: 170 } }])
  const hits = idx.around({ lat: 10, lon: -179.9 }, 100)
  t.equal(hits.length, 1, 'the index reaches across the antimeridian')
  t.ok((hits[0]?.distanceKm ?? 0) < 25)
})

t.test('a station exactly at rangeKm is in range, both for search and for a named reservation', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  const s = hub.ctx.stations.get('MID')
  if (!s) throw new Error('MID')
  const d = distanceKm(HERE, s.position)
  t.ok((await hub.call('station.nearest', { position: HERE, rangeKm: d })).stations.some((x) => x.stationId === 'MID'))
  t.equal((await hub.call('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: d, stationId: 'MID' })).reservation.stationId, 'MID')
})

t.test('nearest search on 100,000 stations matches a brute-force scan', async (t) => {
  const rand = seededRandom(7)
  const specs = Array.from({ length: 100_000 }, (_, i) => ({
    stationId: `S${i}`,
    position: { lat: -18.35 + rand() * 9.8, lon: -46.6 + rand() * 9.3 },
    powerKw: 22,
    priceMinorPerKwh: 70,
  }))
  const registry = new StationRegistry({ hubId: 'h', currency: 'BRL', stations: specs })
  for (let q = 0; q < 10; q++) {
    const p = { lat: -18 + rand() * 9, lon: -46 + rand() * 8 }
    const rangeKm = 5 + rand() * 40
    const got = registry.nearest(p, rangeKm, 20).map((h) => h.item.stationId)
    const want = specs
      .map((s) => ({ id: s.stationId, d: distanceKm(p, s.position) }))
      .filter((x) => x.d <= rangeKm)
      .sort((a, b) => a.d - b.d)
      .slice(0, 20)
      .map((x) => x.id)
    t.same(got, want, `query ${q}: ${want.length} within ${rangeKm.toFixed(1)} km`)
  }
})

t.test('a hub without stations answers an empty list', async (t) => {
  const hub = await testHub('memory', testConfig({ stations: [] }))
  t.teardown(() => hub.dispose())
  t.same(await hub.call('station.nearest', { position: HERE, rangeKm: 100 }), { stations: [] })
  t.equal((await hub.callError('reservation.create', { at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 100 })).code, 'NO_STATION_AVAILABLE')
})

/** A seeded uniform [0, 1) from pure-rand, so runs are reproducible. */
function seededRandom(seed: number): () => number {
  const rng = prand.xoroshiro128plus(seed)
  return () => prand.unsafeUniformIntDistribution(0, 2 ** 31 - 1, rng) / 2 ** 31
}
