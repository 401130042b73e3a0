/**
 * Fleet scenarios: the scenario file is validated like a config file, a seed
 * makes the fleet repeatable, and a small fleet against the fake hub drives,
 * books (trips and nearest stations), charges, cleans up and summarises.
 * Against real hubs, agents and the federation: test/vehicle-fleet-e2e.test.ts.
 */
import t from 'tap'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '../protocol/index.js'
import { createFleet, runFleet } from '../vehicle-sim/fleet/engine.js'
import { credentialsOf, parseScenario, type ScenarioInput } from '../vehicle-sim/fleet/scenario.js'
import { startFakeHub, type FakePeer } from './helpers/vehicle-fake-hub.js'
import { runInProcess } from './helpers/vehicle-cli.js'
import { runLoad } from '../vehicle-sim/load.js'
import { connectVehicle } from '../vehicle-sim/connect.js'
import { freePort } from './helpers/net.js'

const peers: FakePeer[] = [
  { hubId: 'salvador', name: 'Salvador Charge', city: 'Salvador', position: { lat: -12.9714, lon: -38.5014 } },
  { hubId: 'aracaju', name: 'Aracaju Volt', city: 'Aracaju', position: { lat: -10.9472, lon: -37.0731 } },
]

const hub = await startFakeHub({ vehicles: { X1: 'x' }, vehiclePattern: { prefix: 'FV', password: 'fleet-pw' }, peers, energySpeedup: 500 })
t.teardown(() => hub.close())

function scenario(extra: Partial<ScenarioInput> = {}): ScenarioInput {
  return {
    name: 'unit',
    hubs: [{ hubId: 'feira', url: hub.url, vehicles: { prefix: 'FV', count: 12, pad: 3, password: 'fleet-pw' } }],
    battery: { capacityKwh: 40, soc: { min: 0.32, max: 0.4 }, consumptionKwhPer100Km: 20 },
    destinations: ['salvador'],
    policy: { booking: 'mixed', tripShare: 0.5, lowSoc: 0.3, targetSoc: 0.8, leadMinutes: 125, retryMinutes: 30 },
    charging: { statusIntervalMs: 100, assumedPowerKw: 50, maxRealSeconds: 0.5 },
    clock: { compression: 7200, tickMs: 20 },
    stop: { whenAllDone: true, realSeconds: 20 },
    ...extra,
  }
}

t.test('a bad scenario names the field', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ hubs: [] }, /scenario: hubs: too short/],
    [{ ...scenario(), hubs: [{ hubId: 'feira', url: 'http://x', vehicles: { prefix: 'A', count: 1, password: 'p' } }] }, /hubs\[0\]\.url: expected a broker URL/],
    [{ ...scenario(), policy: { lowSoc: 0.5, targetSoc: 0.4 } }, /policy\.targetSoc: must be greater than policy\.lowSoc/],
    [{ ...scenario(), battery: { soc: { min: 0.9, max: 0.1 } } }, /battery\.soc/],
    [{ ...scenario(), clock: { compression: -1 } }, /clock\.compression: must be > 0/],
    [{ ...scenario(), stop: { whenAllDone: false } }, /stop: needs simMinutes, realSeconds or whenAllDone/],
    [{ ...scenario(), bogus: 1 }, /scenario: bogus: unknown field/],
  ]
  for (const [input, re] of cases) t.throws(() => parseScenario(input), re as unknown as Error)
  t.throws(() => parseScenario({ hubs: [] }), ConfigError)
})

t.test('voltway vehicle fleet with a bad or missing scenario file exits 2 naming the field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-fleet-'))
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, JSON.stringify({ hubs: [{ hubId: 'feira', url: hub.url, vehicles: { prefix: 'FV', count: 0, password: 'p' } }] }))
  const r = await runInProcess(['fleet', '--scenario', bad])
  t.equal(r.code, 2)
  t.match(r.stderr, /hubs\[0\]\.vehicles/)
  const missing = await runInProcess(['fleet', '--scenario', join(dir, 'nope.json')])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /cannot read/)
})

t.test('a scenario file that is not JSON is one line on stderr: the quoted text escaped, a position told as line and column', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-fleet-'))
  const nope = join(dir, 'f2.json')
  writeFileSync(nope, 'nope\n')
  const typo = join(dir, 'f3.json')
  writeFileSync(typo, '{\n  "name": "x",\n  hubs: []\n}\n')
  const [a, b] = await Promise.all([runInProcess(['fleet', '--scenario', nope]), runInProcess(['fleet', '--scenario', typo])])
  for (const r of [a, b]) {
    t.equal(r.code, 2)
    t.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`)
  }
  t.equal(a.stderr, `scenario ${nope}: not valid JSON: Unexpected token 'o', "nope\\n" is not valid JSON\n`)
  t.match(b.stderr, /^scenario \S+f3\.json: not valid JSON: .* at position 19 \(line 3, column 3\)$/m)
})

t.test('vehicle credentials from a prefix, a count and a password template', async (t) => {
  const s = parseScenario({ hubs: [{ hubId: 'h', url: 'mqtt://x:1', vehicles: { prefix: 'car-', first: 9, count: 3, pad: 3, password: 'pw-{n}-{id}' } }] })
  t.same(credentialsOf(s.hubs[0] as never), [
    { vehicleId: 'car-009', password: 'pw-009-car-009' },
    { vehicleId: 'car-010', password: 'pw-010-car-010' },
    { vehicleId: 'car-011', password: 'pw-011-car-011' },
  ])
})

t.test('the same seed builds the same fleet; another seed another one', async (t) => {
  const s = parseScenario(scenario())
  const pick = (seed: number) => createFleet(s, seed).map((v) => [v.vehicleId, v.car.capacityKwh, v.car.soc, v.speedKmh, v.strategy, v.rng.next()])
  t.same(pick(42), pick(42))
  t.not(JSON.stringify(pick(42)), JSON.stringify(pick(43)))
  t.equal(createFleet(parseScenario(scenario({ maxVehicles: 5 })), 1).length, 5)
})

t.test('a small fleet drives, books trips and nearest stations, charges and summarises', async (t) => {
  const s = parseScenario({
    ...scenario(),
    hubs: [
      { hubId: 'feira', url: hub.url, vehicles: { prefix: 'FV', count: 12, pad: 3, password: 'fleet-pw' } },
    ],
  })
  const progress: number[] = []
  const { summary, vehicles } = await runFleet(s, { seed: 7, onProgress: (p) => progress.push(p.progress), progressEveryMs: 100 })
  t.equal(summary.seed, 7)
  t.equal(summary.vehicles.total, 12)
  t.equal(summary.vehicles.connected, 12)
  t.equal(summary.stoppedBy, 'all-done')
  t.equal(summary.vehicles.arrived + summary.vehicles.stranded, 12, 'every car ended arrived or stranded')
  t.ok(summary.distanceKm > 0)
  const tripAttempts = summary.trips.booked + Object.values(summary.trips.failed).reduce((a, b) => a + b, 0)
  t.equal(tripAttempts, vehicles.filter((v) => v.strategy === 'trip').length, 'one route.reserve per trip-booking car')
  t.ok(summary.reservations.booked > 0, 'nearest-station bookings when the charge ran low')
  t.ok(summary.charging.sessions > 0, 'charged at booked stations')
  t.ok(summary.charging.energyWh > 0)
  t.ok((summary.charging.costMinor.BRL ?? 0) > 0)
  t.ok(summary.charging.simulatedWh > 0)
  for (const op of ['hub.info', 'route.list', 'reservation.create', 'charge.start', 'charge.stop']) {
    t.ok(summary.requests.perOp[op], `latency recorded for ${op}`)
    t.ok((summary.requests.perOp[op]?.p99Ms ?? 0) >= (summary.requests.perOp[op]?.p50Ms ?? 0))
  }
  t.equal(summary.requests.perOp['route.list']?.count, 1, 'one route.list per hub and destination, shared')
  t.ok(progress.length > 0 && progress.every((p) => p >= 0 && p <= 1))
  t.ok(vehicles.every((v) => v.conn === null && v.activeSessionId === null), 'connections closed, no session left open')
  // Same seed, same start positions and destinations.
  const again = await runFleet(s, { seed: 7 })
  t.same(
    again.vehicles.map((v) => [v.startPosition, v.destination, v.strategy]),
    vehicles.map((v) => [v.startPosition, v.destination, v.strategy]),
  )
})

t.test('requestRetries: a request whose answer is lost goes out again with the same id and the fleet runs on; with 0 it is a TIMEOUT', async (t) => {
  const sent: string[] = []
  const onPublish = (packet: { topic: string; payload: Buffer | string }): void => {
    if (packet.topic.includes('/req/') && String(packet.payload).includes('"hub.info"')) sent.push(String(packet.payload))
  }
  hub.broker.broker.on('publish', onPublish)
  t.teardown(() => hub.broker.broker.removeListener('publish', onPublish))
  const run = (requestRetries: number) =>
    runFleet(
      parseScenario({
        ...scenario(),
        hubs: [{ hubId: 'feira', url: hub.url, vehicles: { prefix: 'FV', count: 3, pad: 3, password: 'fleet-pw' } }],
        requestTimeoutMs: 1000,
        requestRetries,
      }),
      { seed: 5 },
    )
  hub.loseAnswers('hub.info', 1)
  const { summary } = await run(1)
  t.same(sent.length, 2, 'hub.info went out twice')
  t.equal(sent[0], sent[1], 'the same request, the same id')
  t.equal(summary.requests.perOp['hub.info']?.count, 1, 'one request as the fleet counts them')
  t.notOk(summary.requests.errors.TIMEOUT, 'and no TIMEOUT')
  t.equal(summary.vehicles.arrived + summary.vehicles.stranded, 3, 'every car drove')
  sent.length = 0
  hub.loseAnswers('hub.info', 1)
  const without = await run(0)
  t.equal(without.summary.requests.errors.TIMEOUT, 1, 'with requestRetries 0 the lost answer is a TIMEOUT')
  t.equal(sent.length, 1, 'sent once, never repeated')
})

t.test('vehicles whose credentials the broker refuses are counted by code; the rest run', async (t) => {
  const s = parseScenario({
    ...scenario(),
    hubs: [{ hubId: 'feira', url: hub.url, vehicles: [{ vehicleId: 'X1', password: 'x' }, { vehicleId: 'X2', password: 'wrong' }] }],
    stop: { realSeconds: 1, whenAllDone: true },
  })
  const { summary } = await runFleet(s, { seed: 1 })
  t.equal(summary.vehicles.connected, 1)
  t.same(summary.vehicles.connectFailed, { UNAUTHORIZED: 1 })
})

t.test('fleet whose vehicles cannot connect: exit 1 and a hint line per cause (wrong password: the ids and passwords; unreachable: the hub url)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-fleet-'))
  const refused = join(dir, 'refused.json')
  writeFileSync(refused, JSON.stringify(scenario({ hubs: [{ hubId: 'feira', url: hub.url, vehicles: [{ vehicleId: 'X1', password: 'wrong' }] }] })))
  const closed = `mqtt://127.0.0.1:${await freePort()}`
  const unreachable = join(dir, 'unreachable.json')
  writeFileSync(unreachable, JSON.stringify(scenario({ hubs: [{ hubId: 'feira', url: closed, vehicles: [{ vehicleId: 'X1', password: 'x' }] }] })))
  const [a, b] = await Promise.all([runInProcess(['fleet', '--scenario', refused, '--no-progress']), runInProcess(['fleet', '--scenario', unreachable, '--no-progress', '--json'])])
  t.equal(a.code, 1)
  t.match(a.stdout, /connect failures\s*│?\s*UNAUTHORIZED 1/)
  t.match(a.stderr, new RegExp(`^hint: 1 of 1 vehicle could not connect \\(UNAUTHORIZED\\): .*check the vehicle ids and passwords in scenario ${refused.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(hubs\\[\\]\\.vehicles\\)`, 'm'))
  t.notMatch(a.stderr, /hubs\[\]\.url|--password/)
  t.equal(b.code, 1)
  t.same((JSON.parse(b.stdout) as { vehicles: { connectFailed: unknown } }).vehicles.connectFailed, { BROKER_UNREACHABLE: 1 }, 'stdout stays one JSON document')
  t.match(b.stderr, new RegExp(`^hint: 1 of 1 vehicle could not connect \\(BROKER_UNREACHABLE\\): nothing answers at ${closed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: check hubs\\[\\]\\.url`, 'm'))
  t.notMatch(b.stderr, /password|--hub\b/)
})

t.test('fleet --json prints the summary as one JSON document', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-fleet-'))
  const file = join(dir, 's.json')
  writeFileSync(file, JSON.stringify(scenario({ hubs: [{ hubId: 'feira', url: hub.url, vehicles: { prefix: 'FV', count: 3, first: 500, password: 'fleet-pw' } }] })))
  const r = await runInProcess(['fleet', '--scenario', file, '--seed', '3', '--json', '--no-progress'])
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /hint:/, 'no hint when every vehicle connected')
  const doc = JSON.parse(r.stdout) as { seed: number; vehicles: { total: number }; requests: { perOp: Record<string, unknown> } }
  t.equal(doc.seed, 3)
  t.equal(doc.vehicles.total, 3)
  t.ok(doc.requests.perOp['hub.info'])
})

t.test('load: open and closed loop report rate, errors by code and latency', async (t) => {
  const conn = await connectVehicle({ url: hub.url, hubId: 'feira', vehicleId: 'X1', password: 'x', mqttVersion: 4, connectTimeoutMs: 2000, requestTimeoutMs: 2000 })
  t.teardown(() => conn.close())
  const open = await runLoad(conn.rpc, { op: 'hub.info', args: {}, mode: 'open', rate: 200, durationMs: 500, concurrency: 50 })
  t.ok(open.completed >= 80 && open.completed <= 110, `about 100 requests in 0.5 s at 200/s (got ${open.completed})`)
  t.same(open.errors, {})
  t.ok(open.latency.p50Ms > 0 && open.latency.p99Ms >= open.latency.p50Ms && open.latency.maxMs >= open.latency.p99Ms)
  const closed = await runLoad(conn.rpc, { op: 'station.nearest', args: { position: { lat: -12.25, lon: -38.95 }, rangeKm: 10 }, mode: 'closed', durationMs: 300, concurrency: 4 })
  t.ok(closed.completed > 0)
  t.equal(closed.ok, closed.completed)
  hub.failOp('reservation.list', 'INTERNAL', 5)
  const failing = await runLoad(conn.rpc, { op: 'reservation.list', args: {}, mode: 'closed', durationMs: 200, concurrency: 1 })
  t.same(failing.errors, { INTERNAL: 5 })
  t.equal(failing.ok, failing.completed - 5)
})
