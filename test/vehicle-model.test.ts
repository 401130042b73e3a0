/** The simulator's pure parts: battery arithmetic, geometry, hop times, time flags, hints, stats. */
import t from 'tap'
import { ERROR_CODES, formatTime } from '../protocol/index.js'
import { cumulativeHopKm, destinationPoint, distanceKm, hopTimes, interpolate } from '../vehicle-sim/geo.js'
import { HINTS, hintFor } from '../vehicle-sim/hints.js'
import { LOCAL_ERROR_CODES, UsageError } from '../vehicle-sim/errors.js'
import { parseTimeFlag, resolveConnection, resolvePositionRange } from '../vehicle-sim/settings.js'
import { RequestStats } from '../vehicle-sim/stats.js'
import { Vehicle, energyForKm, rangeKm } from '../vehicle-sim/vehicle-model.js'

const close = (a: number, b: number, eps = 1e-9): boolean => Math.abs(a - b) <= eps

t.test('range = capacity x SoC / consumption x 100 km', async (t) => {
  t.equal(rangeKm({ capacityKwh: 60, soc: 0.5, consumptionKwhPer100Km: 15 }), 200)
  t.equal(rangeKm({ capacityKwh: 75, soc: 1, consumptionKwhPer100Km: 18.75 }), 400)
  t.equal(rangeKm({ capacityKwh: 60, soc: 0, consumptionKwhPer100Km: 15 }), 0)
  t.equal(energyForKm(100, 18), 18)
})

t.test('driving drains the battery by consumption x distance', async (t) => {
  const v = new Vehicle({ capacityKwh: 60, soc: 0.5, consumptionKwhPer100Km: 15 }, { lat: 0, lon: 0 })
  t.equal(v.drive(100, { lat: 0, lon: 1 }), 100)
  t.ok(close(v.energyKwh, 15), '30 kWh - 15 kWh')
  t.ok(close(v.soc, 0.25))
  t.ok(close(v.rangeKm, 100))
  t.same(v.position, { lat: 0, lon: 1 }, 'a completed leg ends at its destination')
  t.equal(v.odometerKm, 100)
})

t.test('a battery runs flat part of the way and never goes negative', async (t) => {
  const v = new Vehicle({ capacityKwh: 50, soc: 0.1, consumptionKwhPer100Km: 20 }, { lat: 0, lon: 0 })
  t.ok(close(v.drive(100), 25), 'only 25 km on 5 kWh')
  t.equal(v.soc, 0)
  t.ok(v.empty)
  t.equal(v.drive(10), 0)
  t.equal(v.soc, 0)
})

t.test('charging adds energy up to capacity only', async (t) => {
  const v = new Vehicle({ capacityKwh: 40, soc: 0.5, consumptionKwhPer100Km: 16 }, { lat: 0, lon: 0 })
  t.ok(close(v.charge(10), 10))
  t.ok(close(v.soc, 0.75))
  t.ok(close(v.energyTo(0.9), 6))
  t.ok(close(v.charge(100), 10), 'only the 10 kWh that fit')
  t.equal(v.soc, 1)
  t.equal(v.charge(5), 0)
  t.equal(v.energyTo(0.9), 0)
})

t.test('requests carry position and range, range kept valid for the protocol', async (t) => {
  const v = new Vehicle({ capacityKwh: 60, soc: 0.5, consumptionKwhPer100Km: 15 }, { lat: -12.25, lon: -38.95 })
  t.same(v.requestFields(), { position: { lat: -12.25, lon: -38.95 }, rangeKm: 200 })
  v.drive(1000)
  t.equal(v.requestFields().rangeKm, 0.001, 'an empty battery still sends a positive range')
})

t.test('invalid batteries are refused', async (t) => {
  t.throws(() => new Vehicle({ capacityKwh: 0, soc: 0.5, consumptionKwhPer100Km: 15 }, { lat: 0, lon: 0 }), RangeError)
  t.throws(() => new Vehicle({ capacityKwh: 50, soc: 1.5, consumptionKwhPer100Km: 15 }, { lat: 0, lon: 0 }), RangeError)
  t.throws(() => new Vehicle({ capacityKwh: 50, soc: 0.5, consumptionKwhPer100Km: -1 }, { lat: 0, lon: 0 }), RangeError)
  const v = new Vehicle({ capacityKwh: 50, soc: 0.5, consumptionKwhPer100Km: 15 }, { lat: 0, lon: 0 })
  t.throws(() => v.drive(-1), RangeError)
  t.throws(() => v.charge(-1), RangeError)
})

t.test('great-circle distances and interpolation', async (t) => {
  const feira = { lat: -12.2664, lon: -38.9663 }
  const salvador = { lat: -12.9714, lon: -38.5014 }
  const d = distanceKm(feira, salvador)
  t.ok(d > 90 && d < 95, `Feira-Salvador is about 92 km great-circle (got ${d})`)
  t.ok(close(distanceKm({ lat: 0, lon: 0 }, { lat: 0, lon: 1 }), 111.195, 0.01), 'one degree on the equator')
  const mid = interpolate(feira, salvador, 0.5)
  t.ok(close(distanceKm(feira, mid), d / 2, 1e-6))
  t.same(interpolate(feira, salvador, 0), feira)
  const p = destinationPoint(feira, 90, 10)
  t.ok(close(distanceKm(feira, p), 10, 1e-6))
})

t.test('hop times come from cumulative road distance along the route', async (t) => {
  const start = { lat: 0, lon: 0 }
  const hops = [
    { lat: 0, lon: 0 },
    { lat: 0, lon: 1 },
    { lat: 0, lon: 2 },
  ]
  const gc = cumulativeHopKm(start, hops)
  t.ok(close(gc[0] as number, 0) && close(gc[2] as number, 2 * (gc[1] as number), 1e-6), 'great-circle when no road distance is known')
  const road = cumulativeHopKm(start, hops, 300)
  t.ok(close(road[2] as number, 300, 1e-6), 'the legs are stretched to the route road distance')
  t.ok(close(road[1] as number, 150, 1e-6))
  const depart = Date.parse('2026-11-24T18:00:00Z')
  const times = hopTimes(start, hops, depart, 100, 300).map(formatTime)
  t.same(times, ['2026-11-24T18:00:00Z', '2026-11-24T19:30:00Z', '2026-11-24T21:00:00Z'])
  t.same(cumulativeHopKm(start, []), [])
})

t.test('time flags: RFC 3339, now, and relative times', async (t) => {
  const now = Date.parse('2026-11-24T18:00:00Z')
  t.equal(parseTimeFlag('+2h', '--at', now), '2026-11-24T20:00:00Z')
  t.equal(parseTimeFlag('+1h30m', '--at', now), '2026-11-24T19:30:00Z')
  t.equal(parseTimeFlag('+1d', '--at', now), '2026-11-25T18:00:00Z')
  t.equal(parseTimeFlag('now', '--at', now), '2026-11-24T18:00:00Z')
  t.equal(parseTimeFlag('2026-11-24T15:00:00-03:00', '--at', now), '2026-11-24T18:00:00Z')
  for (const bad of ['tomorrow', '+', '+2x', '2026-13-45', '']) t.throws(() => parseTimeFlag(bad, '--at', now), UsageError, bad)
})

t.test('every wire and connection error code has a hint', async (t) => {
  for (const code of [...ERROR_CODES, ...LOCAL_ERROR_CODES]) t.ok(hintFor(code), code)
  t.equal(Object.keys(HINTS).length, ERROR_CODES.length + LOCAL_ERROR_CODES.length)
  t.equal(hintFor('NOPE'), undefined)
})

t.test('connection settings: flags win over the profile, the profile over the environment', async (t) => {
  const dir = t.testdir({ 'p.json': JSON.stringify({ hub: 'mqtt://profile:1883', hubId: 'ph', vehicle: 'PV', password: 'pp', mqttVersion: 5 }) })
  const env = { VOLTWAY_HUB: 'mqtt://env:1883', VOLTWAY_HUB_ID: 'eh', VOLTWAY_VEHICLE: 'EV', VOLTWAY_PASSWORD: 'ep' }
  t.match(resolveConnection({}, env), { url: 'mqtt://env:1883', hubId: 'eh', vehicleId: 'EV', password: 'ep', mqttVersion: 4 })
  t.match(resolveConnection({ profile: `${dir}/p.json` }, env), { url: 'mqtt://profile:1883', hubId: 'ph', vehicleId: 'PV', mqttVersion: 5 })
  t.match(resolveConnection({ profile: `${dir}/p.json`, vehicle: 'FV' }, env), { vehicleId: 'FV', hubId: 'ph' })
  t.throws(() => resolveConnection({}, {}), /missing --hub.*--hub-id.*--vehicle.*--password/)
  t.throws(() => resolveConnection({ hub: 'http://x', hubId: 'h', vehicle: 'v', password: 'p' }, {}), /--hub: expected a broker URL/)
  t.throws(() => resolveConnection({ hub: 'mqtt://x', hubId: 'h/1', vehicle: 'v', password: 'p' }, {}), /--hub-id/)
  const badEnv = { VOLTWAY_HUB: 'hub.example:1883', VOLTWAY_HUB_ID: 'h/1', VOLTWAY_VEHICLE: 'v', VOLTWAY_PASSWORD: 'p' }
  t.throws(() => resolveConnection({}, badEnv), /^VOLTWAY_HUB: expected a broker URL/, 'a bad value from the environment names the variable, not a flag nobody gave')
  t.throws(() => resolveConnection({ hub: 'mqtt://x' }, badEnv), /^VOLTWAY_HUB_ID: expected an id/)
  t.throws(() => resolveConnection({ hub: 'http://x' }, badEnv), /^--hub: expected a broker URL/, 'the flag, when the flag gave it')
})

t.test('position and range: --range-km, or derived from the battery flags', async (t) => {
  t.same(resolvePositionRange({ lat: 1, lon: 2, rangeKm: 50 }, {}), { position: { lat: 1, lon: 2 }, rangeKm: 50 })
  t.same(resolvePositionRange({ lat: 1, lon: 2, capacityKwh: 60, soc: 0.5, consumption: 15 }, {}), { position: { lat: 1, lon: 2 }, rangeKm: 200 })
  t.throws(() => resolvePositionRange({ lat: 1, lon: 2, capacityKwh: 60 }, {}), /need all three/)
  t.throws(() => resolvePositionRange({ lat: 1, lon: 2 }, {}), /missing --range-km/)
  t.throws(() => resolvePositionRange({ rangeKm: 5 }, {}), /missing --lat and --lon/)
  t.throws(() => resolvePositionRange({ lat: 1, lon: 2, capacityKwh: 60, soc: 0, consumption: 15 }, {}), /range is 0 km/)
})

t.test('latency statistics: percentiles per op and errors by code', async (t) => {
  const s = new RequestStats()
  for (let i = 1; i <= 100; i++) s.record('hub.info', i)
  s.record('route.reserve', 5, 'ROUTE_FAILED')
  s.record('route.reserve', 7, 'ROUTE_FAILED')
  s.record('route.reserve', 9, 'TIMEOUT')
  const per = s.perOp()
  t.equal(per['hub.info']?.count, 100)
  t.ok(close(per['hub.info']?.p50Ms ?? 0, 50, 0.1))
  t.ok(close(per['hub.info']?.p99Ms ?? 0, 99, 0.1))
  t.ok(close(per['hub.info']?.maxMs ?? 0, 100, 0.1))
  t.same(per['route.reserve']?.errors, { ROUTE_FAILED: 2, TIMEOUT: 1 })
  t.same(s.errorsByCode(), { ROUTE_FAILED: 2, TIMEOUT: 1 })
  t.equal(s.total, 103)
})
