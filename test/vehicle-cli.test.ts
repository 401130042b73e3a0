/**
 * Every one-shot `voltway vehicle` command run against
 * a hub on a real broker (test/helpers/vehicle-fake-hub.ts: the real station
 * and reservation ops, faked routes, trips and charging), its --json output checked with the protocol schemas; then the error
 * paths: hub error codes (exit 1 with code and hint), connection failures
 * (clear, bounded in time) and bad flags (exit 2). Most runs are in-process
 * (same commander program, captured output: fast on a busy machine); the
 * tests named "real CLI" spawn `node --import tsx cli.ts vehicle ...`.
 */
import t, { type Test } from 'tap'
import { createServer, type Socket } from 'node:net'
import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { OPS, Receipt, parseTime } from '../protocol/index.js'
import { startFakeHub, type FakePeer } from './helpers/vehicle-fake-hub.js'
import { cleanEnv, jsonOf, runCli, runInProcess, type CliResult } from './helpers/vehicle-cli.js'
import { freePort } from './helpers/net.js'

const peers: FakePeer[] = [
  { hubId: 'salvador', name: 'Salvador Charge', city: 'Salvador', position: { lat: -12.9714, lon: -38.5014 } },
  { hubId: 'aracaju', name: 'Aracaju Volt', city: 'Aracaju', position: { lat: -10.9472, lon: -37.0731 } },
]
const HERE = ['--lat', '-12.25', '--lon', '-38.95']

const hub = await startFakeHub({ vehicles: { V1: 'pw1', V2: 'pw2', V5: 'pw5' }, peers, energySpeedup: 200 })
// A second hub whose every answer to some ops is an error, for the error paths.
const failing = await startFakeHub({ hubId: 'grumpy', vehicles: { V1: 'pw1' }, peers })
failing.failOp('reservation.create', 'NO_STATION_AVAILABLE')
failing.failOp('route.reserve', 'ROUTE_FAILED', Number.POSITIVE_INFINITY, { failedHop: 1, reason: 'PEER_UNAVAILABLE', rolledBack: true })
failing.failOp('hub.info', 'INTERNAL')
t.teardown(async () => {
  await hub.close()
  await failing.close()
})

const envFor = (h: { url: string; hubId: string }, vehicle = 'V1', password = 'pw1'): NodeJS.ProcessEnv =>
  cleanEnv({ VOLTWAY_HUB: h.url, VOLTWAY_HUB_ID: h.hubId, VOLTWAY_VEHICLE: vehicle, VOLTWAY_PASSWORD: password })
const env = envFor(hub)
const v = (args: string[], e: NodeJS.ProcessEnv = env): Promise<CliResult> => runInProcess(args, e)
const real = (args: string[], e: NodeJS.ProcessEnv = env): Promise<CliResult> => runCli(args, { env: e })

function ok(t: Test, r: CliResult): void {
  t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.trim()})`)
}

// Start the independent runs together; the tests below await them in turn.
const infoRun = real(['info', '--json'])
const infoV5Run = v(['info', '--json', '--mqtt-version', '5'])
const infoHumanRun = v(['info'])
const stationsRun = v(['stations', '--json'])
const nearestRun = v(['nearest', '--json', ...HERE, '--range-km', '2.5', '--limit', '3'])
const routesRun = v(['routes', '--json', '--to', 'salvador'])
const routesAllRun = v(['routes', '--json', '--to', 'salvador', '--all'])
const reserveFlow = (async () => {
  const reserve = await v(['reserve', '--json', '--at', '+2h30m', ...HERE, '--capacity-kwh', '60', '--soc', '0.5', '--consumption', '15'], envFor(hub, 'V2', 'pw2'))
  const list = await v(['reservations', '--json'], envFor(hub, 'V2', 'pw2'))
  const id = (jsonOf(reserve) as { reservation?: { reservationId?: string } }).reservation?.reservationId ?? 'missing'
  const cancel = await v(['cancel', id, '--json'], envFor(hub, 'V2', 'pw2'))
  const after = await v(['reservations', '--json'], envFor(hub, 'V2', 'pw2'))
  return { reserve, list, cancel, after }
})()
const tripFlow = (async () => {
  const trip = await v(['trip', '--json', '--to', 'aracaju', '--depart', '+3h', '--speed-kmh', '90', ...HERE, '--range-km', '500'], envFor(hub, 'V5', 'pw5'))
  const route = await v(['routes', '--json', '--to', 'aracaju'], envFor(hub, 'V5', 'pw5'))
  const tripId = (jsonOf(trip) as { trip?: { tripId?: string } }).trip?.tripId ?? 'missing'
  const cancel = await v(['trip-cancel', tripId, '--json'], envFor(hub, 'V5', 'pw5'))
  const explicit = await v(['trip', '--json', '--route', 'feira-salvador-0', '--times', '+3h,+5h', ...HERE, '--range-km', '300'], envFor(hub, 'V5', 'pw5'))
  const trips = await v(['trips', '--json'], envFor(hub, 'V5', 'pw5'))
  const tripsHuman = await v(['trips', '--limit', '1'], envFor(hub, 'V5', 'pw5'))
  const noTrips = await v(['trips'], envFor(hub, 'V2', 'pw2'))
  return { trip, route, cancel, explicit, trips, tripsHuman, noTrips }
})()
const chargeFlow = (async () => {
  const charge = await v(['charge', '--json', '--station', 'S3', '--kwh', '0.3', '--interval-ms', '100'])
  const history = await v(['history', '--json'])
  const historyHuman = await v(['history'])
  return { charge, history, historyHuman }
})()

t.test('real CLI: info prints hub.info as JSON that matches the schema, over MQTT 3.1.1 and 5', async (t) => {
  for (const r of [await infoRun, await infoV5Run]) {
    ok(t, r)
    const info = OPS['hub.info'].result.parse(jsonOf(r))
    t.equal(info.hubId, 'feira')
    t.same(info.peers, ['salvador', 'aracaju'])
  }
})

t.test('info without --json prints a table', async (t) => {
  const r = await infoHumanRun
  ok(t, r)
  t.match(r.stdout, /hub\s+│ feira/)
  t.match(r.stdout, /peers\s+│ salvador, aracaju/)
})

t.test('stations lists station.list', async (t) => {
  const r = await stationsRun
  ok(t, r)
  const res = OPS['station.list'].result.parse(jsonOf(r))
  t.equal(res.stations.length, 4)
})

t.test('nearest sends position, range and limit, and gets stations nearest first within range', async (t) => {
  const r = await nearestRun
  ok(t, r)
  const res = OPS['station.nearest'].result.parse(jsonOf(r))
  t.ok(res.stations.length > 0 && res.stations.length <= 3)
  t.ok(res.stations.every((s) => s.distanceKm <= 2.5), 'within --range-km')
  t.same(res.stations.map((s) => s.distanceKm), [...res.stations.map((s) => s.distanceKm)].sort((a, b) => a - b))
})

t.test('reserve (range from the battery flags), reservations, cancel', async (t) => {
  const { reserve, list, cancel, after } = await reserveFlow
  ok(t, reserve)
  const res = OPS['reservation.create'].result.parse(jsonOf(reserve))
  t.equal(res.reservation.vehicleId, 'V2')
  const lead = parseTime(res.reservation.at) - Date.now()
  t.ok(lead > 2.4 * 3_600_000 && lead < 2.6 * 3_600_000, '--at +2h30m is 2 h 30 min from now')
  ok(t, list)
  t.same(OPS['reservation.list'].result.parse(jsonOf(list)).reservations.map((x) => x.reservationId), [res.reservation.reservationId])
  ok(t, cancel)
  t.same(OPS['reservation.cancel'].result.parse(jsonOf(cancel)), { cancelled: 1 })
  t.same(OPS['reservation.list'].result.parse(jsonOf(after)).reservations, [])
})

t.test("the hub's window rule holds for a vehicle's own bookings: a second reservation of one station 1 h later is a conflict", async (t) => {
  const e = envFor(hub, 'V1', 'pw1')
  const first = await v(['reserve', '--json', '--at', '+9h', '--station', 'S4', ...HERE, '--range-km', '50'], e)
  ok(t, first)
  const again = await v(['reserve', '--json', '--at', '+10h', '--station', 'S4', ...HERE, '--range-km', '50'], e)
  t.equal(again.code, 1)
  t.match(jsonOf(again), { ok: false, error: { code: 'RESERVATION_CONFLICT' } })
  const id = OPS['reservation.create'].result.parse(jsonOf(first)).reservation.reservationId
  ok(t, await v(['cancel', id, '--json'], e))
})

t.test('routes shows one route by --index, and --all pages through every route', async (t) => {
  const one = await routesRun
  ok(t, one)
  const page = OPS['route.list'].result.parse(jsonOf(one))
  t.equal(page.index, 0)
  t.equal(page.total, 2)
  const all = await routesAllRun
  ok(t, all)
  const doc = z.object({ destination: z.string(), total: z.number(), routes: z.array(z.object({ index: z.number(), route: OPS['route.list'].result.shape.route })) }).parse(jsonOf(all))
  t.equal(doc.routes.length, doc.total)
  t.same(doc.routes.map((r) => r.index), [0, 1])
  t.ok((doc.routes[0]?.route.distanceKm ?? 0) <= (doc.routes[1]?.route.distanceKm ?? 0), 'shortest first')
})

t.test('trip reserves a route with hop times from --depart and --speed-kmh; trip-cancel undoes it', async (t) => {
  const { trip, route, cancel, explicit } = await tripFlow
  ok(t, trip)
  const res = OPS['route.reserve'].result.parse(jsonOf(trip))
  t.same(res.trip.legs.map((l) => l.hubId), ['feira', 'aracaju'])
  const depart = Date.now() + 3 * 3_600_000
  const [t0, t1] = res.trip.legs.map((l) => parseTime(l.at)) as [number, number]
  t.ok(Math.abs(t0 - depart) < 10 * 60_000, 'hop 0 is reached about at departure (the car starts next to it)')
  // Road distance of the route / 90 km/h between the hops.
  const routeKm = OPS['route.list'].result.parse(jsonOf(route)).route.distanceKm
  t.ok(Math.abs(t1 - t0 - (routeKm / 90) * 3_600_000) < 60_000, `hop 1 is ${((t1 - t0) / 3_600_000).toFixed(2)} h after hop 0`)
  ok(t, cancel)
  t.same(OPS['trip.cancel'].result.parse(jsonOf(cancel)), { cancelled: 2 })
  ok(t, explicit)
  t.equal(OPS['route.reserve'].result.parse(jsonOf(explicit)).trip.legs.length, 2, '--route with --times')
})

t.test("trips lists the vehicle's trips, newest first, cancelled ones too (where a trip whose answer was lost shows up)", async (t) => {
  const { trip, explicit, trips, tripsHuman, noTrips } = await tripFlow
  ok(t, trips)
  const listed = OPS['trip.list'].result.parse(jsonOf(trips)).trips
  const ids = [explicit, trip].map((r) => OPS['route.reserve'].result.parse(jsonOf(r)).trip.tripId)
  t.same(listed.map((x) => x.tripId), ids, 'both trips, the newest first')
  t.same(listed.map((x) => x.state), ['confirmed', 'cancelled'])
  t.same(listed[0]?.legs.map((l) => l.hubId), ['feira', 'salvador'])
  ok(t, tripsHuman)
  t.match(tripsHuman.stdout, ids[0] as string, '--limit 1: the newest')
  t.notMatch(tripsHuman.stdout, ids[1] as string, '--limit 1: only it')
  t.match(tripsHuman.stdout, /confirmed/)
  ok(t, noTrips)
  t.match(noTrips.stdout, /^no trips/, 'another vehicle has none')
})

t.test('charge starts, follows charge.status, stops at --kwh and prints the receipt; history lists it', async (t) => {
  const { charge, history, historyHuman } = await chargeFlow
  ok(t, charge)
  const doc = z
    .object({ session: OPS['charge.start'].result.shape.session, status: OPS['charge.status'].result.shape.session.nullable(), stoppedBy: z.enum(['kwh', 'station']), receipt: Receipt })
    .parse(jsonOf(charge))
  t.equal(doc.stoppedBy, 'kwh', 'the limit, not the station, is why it stopped')
  t.ok(doc.receipt.energyWh >= 300, 'stopped once 0.3 kWh flowed')
  t.equal(doc.receipt.costMinor, Math.round((doc.receipt.energyWh * doc.receipt.priceMinorPerKwh) / 1000))
  t.match(charge.stderr, /charging C\w+: \d+\.\d{3} kWh/, 'live energy and cost on stderr in --json mode')
  ok(t, history)
  const h = OPS['history.list'].result.parse(jsonOf(history))
  t.ok(h.receipts.some((r) => r.sessionId === doc.receipt.sessionId))
  t.match(historyHuman.stdout, new RegExp(doc.receipt.sessionId))
})

t.test('real CLI: charge stops on Ctrl-C (SIGINT) and still prints the receipt', async (t) => {
  const r = await runCli(['charge', '--json', '--station', 'S4', '--interval-ms', '100'], {
    env: envFor(hub, 'V5', 'pw5'),
    onSpawn: (child) => {
      let sent = false
      child.stderr?.on('data', (d: Buffer | string) => {
        if (!sent && String(d).includes('charging')) {
          sent = true
          child.kill('SIGINT')
        }
      })
    },
  })
  ok(t, r)
  const doc = z.object({ stoppedBy: z.literal('interrupted'), receipt: Receipt }).parse(jsonOf(r))
  t.equal(doc.receipt.stationId, 'S4')
})

t.test('a profile file supplies the connection', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-vehicle-'))
  const file = join(dir, 'profile.json')
  writeFileSync(file, JSON.stringify({ hub: hub.url, hubId: 'feira', vehicle: 'V1', password: 'pw1', position: { lat: -12.25, lon: -38.95 }, rangeKm: 40 }))
  const r = await v(['nearest', '--json', '--profile', file], cleanEnv())
  ok(t, r)
  t.ok(OPS['station.nearest'].result.parse(jsonOf(r)).stations.length > 0)
})

t.test('real CLI and in-process: a hub error prints the wire code and a hint and exits 1', async (t) => {
  const e = envFor(failing)
  const [reserve, reserveJson, trip, info, tooSoon] = await Promise.all([
    real(['reserve', '--at', '+3h', ...HERE, '--range-km', '20'], e),
    v(['reserve', '--json', '--at', '+3h', ...HERE, '--range-km', '20'], e),
    v(['trip', '--to', 'salvador', ...HERE, '--range-km', '300'], e),
    v(['info'], e),
    v(['reserve', '--at', '+1h', ...HERE, '--range-km', '20']),
  ])
  t.equal(reserve.code, 1)
  t.match(reserve.stderr, /^error NO_STATION_AVAILABLE: .*\(hint: no free station within range/)
  t.equal(reserve.stderr.trim().split('\n').length, 1, 'one line')
  t.equal(reserveJson.code, 1)
  t.match(jsonOf(reserveJson), { ok: false, error: { code: 'NO_STATION_AVAILABLE', hint: /range/ } })
  t.equal(trip.code, 1)
  t.match(trip.stderr, /error ROUTE_FAILED: .*\[failed hop 1, reason PEER_UNAVAILABLE, nothing kept\].*hint:/)
  t.equal(info.code, 1)
  t.match(info.stderr, /error INTERNAL: .*hint: .*hub logs/)
  t.equal(tooSoon.code, 1)
  t.match(tooSoon.stderr, /error TOO_SOON: .*hint: this hub takes reservations at least 120 minutes ahead; use --at \S+ or later/)
})

t.test('connection failures (one through the real CLI) are one clear line with a hint, exit 1, and never hang', async (t) => {
  const closedPort = await freePort()
  // Accepts TCP but never answers the MQTT CONNECT.
  const silent = createServer((s: Socket) => void s.on('error', () => undefined))
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  const addr = silent.address()
  const silentPort = typeof addr === 'object' && addr ? addr.port : 0
  t.teardown(() => void silent.close())
  // Answers, but in HTTP (the hub's HTTP port given as --hub).
  const http = createHttpServer((_req, res) => void res.end('ok'))
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  const httpAddr = http.address()
  const httpPort = typeof httpAddr === 'object' && httpAddr ? httpAddr.port : 0
  t.teardown(() => void http.close())
  const [badPassword, unknownVehicle, refused, hang, noHub, notMqtt] = await Promise.all([
    v(['info'], envFor(hub, 'V1', 'wrong')),
    v(['info', '--json'], envFor(hub, 'NOBODY', 'x')),
    v(['info', '--hub', `mqtt://127.0.0.1:${closedPort}`]),
    real(['info', '--hub', `mqtt://127.0.0.1:${silentPort}`, '--connect-timeout-ms', '700']),
    v(['info', '--hub-id', 'nohub', '--timeout-ms', '400']),
    v(['info', '--hub', `mqtt://127.0.0.1:${httpPort}`]),
  ])
  for (const r of [badPassword, unknownVehicle, refused, hang, noHub, notMqtt]) {
    t.equal(r.code, 1)
    t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr.trim()}`)
    t.match(r.stderr, /\(hint: /)
  }
  t.match(badPassword.stderr, /^error UNAUTHORIZED: .*refused vehicle V1/)
  t.match(jsonOf(unknownVehicle), { ok: false, error: { code: 'UNAUTHORIZED' } })
  t.match(refused.stderr, /^error BROKER_UNREACHABLE: cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: connection refused/)
  t.match(hang.stderr, /^error CONNECT_TIMEOUT: no MQTT handshake .* within 700 ms/)
  t.ok(hang.ms < 10_000, `gave up after the connect timeout (${hang.ms} ms including start-up)`)
  t.match(noHub.stderr, /^error TIMEOUT: no answer to hub.info from hub nohub/)
  t.match(notMqtt.stderr, /^error BROKER_UNREACHABLE: cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: the answer is not MQTT \(.*\) \(hint: something answers at --hub, but it is not an MQTT broker: is it the hub's HTTP port\?/)
  t.notMatch(notMqtt.stderr, /nothing answers/, 'not the hint of a closed port')
})

t.test('bad flags (one through the real CLI) and missing settings exit 2', async (t) => {
  const runs = await Promise.all([
    real(['nearest', '--lat', 'abc', '--lon', '1', '--range-km', '5']),
    v(['info', '--no-such-flag']),
    v(['no-such-command']),
    v(['info'], cleanEnv()),
    v(['reserve', ...HERE, '--range-km', '5']),
    v(['reserve', '--at', 'tomorrow', ...HERE, '--range-km', '5']),
    v(['nearest', '--lat', '1', '--lon', '2']),
    v(['cancel']),
    v(['cancel', 'bad/id']),
    v(['info', '--mqtt-version', '3']),
    v(['trip', '--route', 'r1', ...HERE, '--range-km', '5']),
    v(['charge']),
  ])
  for (const r of runs) t.equal(r.code, 2, `exit 2: ${r.stderr.trim().split('\n')[0]}`)
  t.match(runs[3]?.stderr, /missing --hub/)
  t.match(runs[4]?.stderr, /missing --at/)
  t.match(runs[6]?.stderr, /missing --range-km/)
})

t.test('load checks --op, --mode and --args before connecting: the same usage error (exit 2) with the hub down as with it up', async (t) => {
  const closedPort = await freePort()
  const down = cleanEnv({ VOLTWAY_HUB: `mqtt://127.0.0.1:${closedPort}`, VOLTWAY_HUB_ID: 'feira', VOLTWAY_VEHICLE: 'V1', VOLTWAY_PASSWORD: 'pw1' })
  const cases: Array<[string[], RegExp]> = [
    [['load', '--op', 'nope'], /^--op: unknown op "nope"; one of /],
    [['load', '--op', 'hub.info', '--mode', 'sideways'], /^--mode: expected open or closed/],
    [['load', '--op', 'hub.info', '--mode', 'open'], /^--mode open needs --rate/],
    [['load', '--op', 'hub.info', '--args', '{'], /^--args: not valid JSON/],
    [['load', '--op', 'reservation.cancel', '--args', '{"reservationId": 5}'], /^--args for reservation\.cancel: /],
    // In the hub's words: the field's own bound, not zod's safe-integer one, and the field by its path.
    [['load', '--op', 'station.list', '--args', '{"limit": 1e308}'], /^--args for station\.list: limit: must be <= 1000\n/],
    [['load', '--op', 'route.list'], /^route\.list needs --to/],
    [['load', '--op', 'station.nearest'], /^missing --lat and --lon/],
  ]
  for (const [args, says] of cases) {
    const [up, off] = await Promise.all([v(args), v(args, down)])
    for (const [where, r] of [['hub up', up], ['hub down', off]] as const) {
      t.equal(r.code, 2, `${args.join(' ')} (${where}): exit 2`)
      t.match(r.stderr, says, `${args.join(' ')} (${where}): ${r.stderr.trim()}`)
      t.notMatch(r.stderr, /BROKER_UNREACHABLE/)
    }
  }
})

t.test('every one-shot command checks its own flags before connecting: a bad one is exit 2 with the hub down too', async (t) => {
  const closedPort = await freePort()
  const down = cleanEnv({ VOLTWAY_HUB: `mqtt://127.0.0.1:${closedPort}`, VOLTWAY_HUB_ID: 'feira', VOLTWAY_VEHICLE: 'V1', VOLTWAY_PASSWORD: 'pw1' })
  const cases: Array<[string[], RegExp]> = [
    [['reserve', ...HERE, '--range-km', '5'], /^missing --at/],
    [['reserve', '--at', 'tomorrow', ...HERE, '--range-km', '5'], /^--at: expected an RFC 3339 time/],
    [['reserve', '--at', '+3h', '--station', 'bad/id', ...HERE, '--range-km', '5'], /^--station: expected an id/],
    [['nearest', ...HERE], /^missing --range-km/],
    [['nearest', '--at', 'soon', ...HERE, '--range-km', '5'], /^--at: expected an RFC 3339 time/],
    [['cancel'], /^missing the reservation id/],
    [['cancel', 'r1', '--all'], /^give either a reservation id or --all, not both/],
    [['cancel', 'bad/id'], /^reservationId: expected an id/],
    [['routes', '--to', 'bad/id'], /^--to: expected an id/],
    [['trip-cancel', 'bad/id'], /^tripId: expected an id/],
    [['charge'], /required option '--station <id>' not specified/],
    [['charge', '--station', 'S1', '--reservation', 'bad/id'], /^--reservation: expected an id/],
    [['trip', '--route', 'r1', ...HERE, '--range-km', '5'], /^--route without --to needs --times/],
    [['trip', '--to', 'salvador', '--depart', 'never', ...HERE, '--range-km', '5'], /^--depart: expected an RFC 3339 time/],
    [['trip', '--route', 'r1', '--times', 'x', ...HERE, '--range-km', '5'], /^--times\[0\]: expected an RFC 3339 time/],
  ]
  for (const [args, says] of cases) {
    const [up, off] = await Promise.all([v(args), v(args, down)])
    for (const [where, r] of [['hub up', up], ['hub down', off]] as const) {
      t.equal(r.code, 2, `${args.join(' ')} (${where}): exit 2`)
      t.match(r.stderr, says, `${args.join(' ')} (${where}): ${r.stderr.trim()}`)
    }
  }
})
