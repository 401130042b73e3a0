/**
 * Every one-shot `voltway vehicle` command against a real federation: the
 * demo's four hubs with station agents on mock boards. Each `--json` output
 * is parsed with the protocol schemas and checked against the hubs' stores.
 */
import t from 'tap'
import { pino } from 'pino'
import { buildDemoConfigs } from '../demo/configs.js'
import { startDemoFederation } from '../demo/federation.js'
import { OPS } from '../protocol/index.js'
import { tempDir } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'
import { cleanEnv, jsonOf, runInProcess } from './helpers/vehicle-cli.js'

const cfgs = await buildDemoConfigs(tempDir('voltway-fedcli-'), 0)
const fed = await startDemoFederation(cfgs, pino({ level: process.env.VOLTWAY_TEST_LOG ?? 'silent' }))
t.teardown(() => fed.close())
const salvador = fed.hubs.get('salvador')
if (!salvador) throw new Error('no salvador hub')
const env = cleanEnv({ VOLTWAY_HUB: salvador.mqttUrl, VOLTWAY_HUB_ID: 'salvador', VOLTWAY_VEHICLE: 'tester', VOLTWAY_PASSWORD: 'tester-demo-pass' })
const HERE = ['--lat', '-12.98', '--lon', '-38.48', '--range-km', '380']

async function run(args: string[]): Promise<unknown> {
  const r = await runInProcess([...args, '--json'], env)
  if (r.code !== 0) throw new Error(`voltway vehicle ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return jsonOf(r)
}

await waitUntil(async () => OPS['station.list'].result.parse(await run(['stations'])).stations.every((s) => s.online), 20_000, 'every Salvador station online')

t.test('routes --all pages through every route to the destination, shortest first', async (t) => {
  const out = (await run(['routes', '--to', 'conquista', '--all'])) as { destination: string; total: number; routes: Array<{ index: number; route: unknown }> }
  t.equal(out.destination, 'conquista')
  t.equal(out.total, 2)
  const routes = out.routes.map((r) => OPS['route.list'].result.shape.route.parse(r.route))
  t.same(routes.map((r) => r.hops.map((h) => h.hubId)), [['salvador', 'feira', 'jequie', 'conquista'], ['salvador', 'jequie', 'conquista']])
  t.ok((routes[0]?.distanceKm ?? 0) <= (routes[1]?.distanceKm ?? 0), 'shortest first')
  const one = OPS['route.list'].result.parse(await run(['routes', '--to', 'conquista', '--index', '1']))
  t.equal(one.route.routeId, routes[1]?.routeId, '--index picks one page; route ids are stable')
})

t.test('trip books one station per hop, visible at every hub; trip-cancel releases every leg', async (t) => {
  const { trip } = OPS['route.reserve'].result.parse(await run(['trip', '--to', 'conquista', ...HERE]))
  t.same(trip.legs.map((l) => l.hubId), ['salvador', 'feira', 'jequie', 'conquista'])
  for (const leg of trip.legs) {
    const r = await fed.hubs.get(leg.hubId)?.context.store.reservations.getReservation(leg.reservationId)
    t.equal(r?.stationId, leg.stationId, `${leg.hubId} holds the reservation of its leg`)
  }
  const cancelled = OPS['trip.cancel'].result.parse(await run(['trip-cancel', trip.tripId]))
  t.equal(cancelled.cancelled, 4)
  for (const leg of trip.legs) {
    const r = await fed.hubs.get(leg.hubId)?.context.store.reservations.getReservation(leg.reservationId)
    t.equal(r, null, `${leg.hubId} released its leg`)
  }
})

t.test('reserve, reservations and cancel --all work on the real hub', async (t) => {
  const made = OPS['reservation.create'].result.parse(await run(['reserve', '--at', '+2h30m', '--station', 'SSA-2', ...HERE]))
  t.equal(made.reservation.stationId, 'SSA-2')
  const list = OPS['reservation.list'].result.parse(await run(['reservations']))
  t.ok(list.reservations.some((r) => r.reservationId === made.reservation.reservationId))
  t.same(OPS['reservation.cancel'].result.parse(await run(['cancel', '--all'])), { cancelled: 1 })
  t.same(OPS['reservation.list'].result.parse(await run(['reservations'])).reservations, [])
})

t.test('charge meters real energy on the station agent and prints the receipt; history shows it from the federation', async (t) => {
  const out = (await run(['charge', '--station', 'SSA-1', '--kwh', '0.05', '--interval-ms', '100'])) as { receipt: unknown }
  const receipt = OPS['charge.stop'].result.shape.receipt.parse(out.receipt)
  t.ok(receipt.energyWh >= 50, `stopped at the limit (${receipt.energyWh} Wh)`)
  t.equal(receipt.costMinor, Math.round((receipt.energyWh * receipt.priceMinorPerKwh) / 1000))
  const stored = await salvador.context.store.charging.getReceipt(receipt.sessionId)
  t.equal(stored?.energyWh, receipt.energyWh, 'the hub billed the same energy')
  const history = OPS['history.list'].result.parse(await run(['history']))
  t.equal(history.partial, false, 'every company answered')
  t.ok(history.receipts.some((r) => r.sessionId === receipt.sessionId))
})
