/**
 * The vehicle commands against the real hub (hub/app.ts `startHub`, embedded
 * broker with its ACL), for the ops the hub serves today. Charging needs a
 * station agent and routes need the federation: those stay with the
 * end-to-end tests that run hubs, agents and the fleet together.
 */
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { OPS } from '../protocol/index.js'
import { startHub } from '../hub/app.js'
import { HubConfigSchema } from '../hub/config.js'
import { cleanEnv, jsonOf, runCli, runInProcess } from './helpers/vehicle-cli.js'

const dataDir = mkdtempSync(join(tmpdir(), 'voltway-vehicle-realhub-'))
const config = HubConfigSchema.parse({
  hubId: 'feira',
  name: 'Feira Charging',
  city: 'Feira de Santana',
  position: { lat: -12.2664, lon: -38.9663 },
  currency: 'BRL',
  dataDir,
  mqtt: { listen: { host: '127.0.0.1', port: 0 } },
  http: { host: '127.0.0.1', port: 0 },
  stations: [
    { stationId: 'FSA-1', position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73, password: 's1' },
    { stationId: 'FSA-2', position: { lat: -12.26, lon: -38.96 }, powerKw: 11, priceMinorPerKwh: 65, password: 's2' },
  ],
  vehicles: [{ vehicleId: 'V1', password: 'v1-pass' }],
})
const hub = await startHub(config, { ephemeralPorts: true, logger: pino({ level: 'silent' }) })
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
