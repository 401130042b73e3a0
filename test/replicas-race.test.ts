/**
 * Hub replicas racing (issue 12, "Done when"): real `voltway hub --replica`
 * processes on one PostgreSQL database behind one Mosquitto. The database,
 * not any replica's memory, decides who wins a slot or a route.
 */
import t from 'tap'
import { formatTime } from '../protocol/index.js'
import { BAHIA, BAHIA_LINKS } from './helpers/federation-hubs.js'
import { hubConfig } from './helpers/hub-config.js'
import { mosquittoBinary } from './helpers/mosquitto.js'
import { fleet, replicaFederation, startReplicaCluster, type ReplicaCluster } from './helpers/replica-cluster.js'
import { IdVehicle } from './helpers/replica-vehicle.js'
import { postgresSkipReason } from './helpers/store-postgres.js'

const skip = mosquittoBinary() === null ? 'mosquitto is not installed' : await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`replica tests cannot run in CI: ${skip}`)

/** Requests of `op` each replica answered, from its /metrics (the `replica` label). */
async function answeredBy(c: ReplicaCluster, op: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const name of c.replicas.keys()) {
    const text = await (await fetch(`${c.httpUrl(name)}/metrics`)).text()
    out[name] = text
      .split('\n')
      .filter((l) => l.startsWith('voltway_requests_total{') && l.includes(`op="${op}"`) && l.includes(`replica="${name}"`))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)
  }
  return out
}

const VEHICLES = fleet(10)

for (const n of [2, 3]) {
  t.test(`[${n} replicas] 200 reservation.create for one slot from 10 vehicles: exactly one winner, every loser RESERVATION_CONFLICT`, { skip: skip ?? false }, async (t) => {
    const names = Array.from({ length: n }, (_, i) => `r${i + 1}`)
    const c = await startReplicaCluster({ config: hubConfig({ vehicles: VEHICLES }), replicas: names })
    const vehicles: IdVehicle[] = []
    t.teardown(async () => {
      for (const v of vehicles) await v.close()
      await c.close()
    })
    for (const v of VEHICLES) vehicles.push(await IdVehicle.connect(c.broker.url, c.hubId, v.vehicleId, v.password))
    const station = c.config.stations[0] as (typeof c.config.stations)[number]
    const at = formatTime(Math.ceil((Date.now() + 3 * 3_600_000) / 1000) * 1000)
    const args = { at, position: station.position, rangeKm: 5, stationId: station.stationId }
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const v = vehicles[i % vehicles.length] as IdVehicle
        return v.call('reservation.create', args, `slot-${i}`, { timeoutMs: 10_000, maxSends: 3 }).then((o) => ({ vehicleId: v.vehicleId, ...o }))
      }),
    )
    const winners = answers.filter((a) => a.answer.ok)
    t.equal(winners.length, 1, 'exactly one reservation.create succeeded')
    const codes = answers.flatMap((a) => (a.answer.ok ? [] : [a.answer.error.code]))
    t.same([...new Set(codes)], ['RESERVATION_CONFLICT'], 'every loser is told the station is booked at that time')
    t.equal(answers.filter((a) => a.sends > 1).length, 0, 'every request was answered the first time')
    const rows = await c.db.sql<{ vehicle_id: string; n: string }>('SELECT vehicle_id, count(*) AS n FROM reservations GROUP BY vehicle_id')
    t.same(rows.rows.map((r) => [r.vehicle_id, Number(r.n)]), [[winners[0]?.vehicleId, 1]], 'one reservation in the database, the winner\'s')
    const spread = await answeredBy(c, 'reservation.create')
    t.equal(Object.values(spread).reduce((a, b) => a + b, 0), 200, `each request answered once by one replica (${JSON.stringify(spread)})`)
    for (const name of names) t.ok((spread[name] ?? 0) > 0, `replica ${name} answered some of them`)
  })
}

t.test('[3 hubs x 2 replicas] 20 vehicles racing for one 3-hop route: exactly 2 trips, every loser told why, 2 reservations and no hold per hub', { skip: skip ?? false }, async (t) => {
  const fed = await replicaFederation({ specs: BAHIA, links: BAHIA_LINKS, replicas: ['r1', 'r2'], vehicles: fleet(20) })
  const vehicles: IdVehicle[] = []
  t.teardown(async () => {
    for (const v of vehicles) await v.close()
    await fed.close()
  })
  const feira = fed.cluster('feira')
  for (const v of fleet(20)) vehicles.push(await IdVehicle.connect(feira.broker.url, 'feira', v.vehicleId, v.password))
  const list = await (vehicles[0] as IdVehicle).call('route.list', { destination: 'ilheus' }, 'list-1', { timeoutMs: 10_000 })
  if (!list.answer.ok) throw new Error(`route.list: ${JSON.stringify(list.answer.error)}`)
  const route = (list.answer.result as { route: { routeId: string; hops: Array<{ hubId: string }> } }).route
  t.same(route.hops.map((h) => h.hubId), ['feira', 'salvador', 'ilheus'])
  const base = Math.ceil(Date.now() / 60_000) * 60_000
  const times = [180, 300, 600].map((m) => formatTime(base + m * 60_000))
  const args = { routeId: route.routeId, times, position: { lat: -12.251, lon: -38.951 }, rangeKm: 250 }
  const answers = await Promise.all(vehicles.map((v) => v.call('route.reserve', args, `trip-${v.vehicleId}`, { timeoutMs: 30_000, maxSends: 2 })))
  const trips = answers.filter((a) => a.answer.ok)
  t.equal(trips.length, 2, 'exactly two trips booked (two stations per hub)')
  const reasons = answers.flatMap((a) => (a.answer.ok ? [] : [`${a.answer.error.code}:${String(a.answer.error.details?.reason)}`]))
  t.same([...new Set(reasons)], ['ROUTE_FAILED:NO_STATION_AVAILABLE'], 'every loser: ROUTE_FAILED because no station was left')
  for (const [hubId, c] of Object.entries(fed.clusters)) {
    const r = await c.db.sql<{ reservations: string; holds: string }>(
      'SELECT (SELECT count(*) FROM reservations) AS reservations, (SELECT count(*) FROM holds WHERE reservation_id IS NULL) AS holds',
    )
    t.same([Number(r.rows[0]?.reservations), Number(r.rows[0]?.holds)], [2, 0], `${hubId}: 2 confirmed reservations, no hold left`)
  }
  const states = await feira.db.sql<{ state: string; n: string }>('SELECT state, count(*) AS n FROM trips GROUP BY state ORDER BY state')
  t.same(Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)])), { aborted: 18, confirmed: 2 }, 'feira: 2 trips confirmed, 18 aborted, none left running')
})
