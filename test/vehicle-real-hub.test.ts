/**
 * The vehicle commands against the real hub (hub/app.ts `startHub`, embedded
 * broker with its ACL). Routes, trips, charging and history run against a
 * whole federation with station agents in vehicle-federation-cli.test.ts.
 */
import t from 'tap'
import { OPS } from '../protocol/index.js'
import { hubConfig, startTestHub } from './helpers/hub.js'
import { cleanEnv, jsonOf, runCli, runInProcess } from './helpers/vehicle-cli.js'

const hub = await startTestHub(hubConfig())
t.teardown(() => hub.close())

const env = cleanEnv({ VOLTWAY_HUB: hub.mqttUrl, VOLTWAY_HUB_ID: 'feira', VOLTWAY_VEHICLE: 'V1', VOLTWAY_PASSWORD: 'v1-pass' })
const HERE = ['--lat', '-12.25', '--lon', '-38.95', '--range-km', '20']

t.test('real hub, real CLI: info matches the schema', async (t) => {
  const r = await runCli(['info', '--json'], { env })
  t.equal(r.code, 0, r.stderr)
  t.match(OPS['hub.info'].result.parse(jsonOf(r)), { hubId: 'feira', stations: 2 })
})

t.test('real hub: stations and nearest match the schemas', async (t) => {
  const s = await runInProcess(['stations', '--json'], env)
  t.equal(s.code, 0, s.stderr)
  t.equal(OPS['station.list'].result.parse(jsonOf(s)).stations.length, 2)
  const n = await runInProcess(['nearest', '--json', ...HERE], env)
  t.equal(n.code, 0, n.stderr)
  const near = OPS['station.nearest'].result.parse(jsonOf(n)).stations
  t.equal(near[0]?.stationId, 'FSA-1', 'nearest first')
})

t.test('real hub: reserve, list and cancel', async (t) => {
  const r = await runInProcess(['reserve', '--json', '--at', '+2h30m', ...HERE], env)
  t.equal(r.code, 0, r.stderr)
  const res = OPS['reservation.create'].result.parse(jsonOf(r))
  const list = await runInProcess(['reservations', '--json'], env)
  t.ok(OPS['reservation.list'].result.parse(jsonOf(list)).reservations.some((x) => x.reservationId === res.reservation.reservationId))
  const c = await runInProcess(['cancel', res.reservation.reservationId, '--json'], env)
  t.same(OPS['reservation.cancel'].result.parse(jsonOf(c)), { cancelled: 1 })
})

t.test('real hub: too-soon reservation and wrong password are coded errors, exit 1', async (t) => {
  const soon = await runInProcess(['reserve', '--at', '+10m', ...HERE], env)
  t.equal(soon.code, 1)
  t.match(soon.stderr, /^error TOO_SOON: .*hint:/)
  const bad = await runInProcess(['info'], { ...env, VOLTWAY_PASSWORD: 'nope' })
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^error UNAUTHORIZED: .*hint:/)
})
