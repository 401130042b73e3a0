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
import { fleet, replicaFederation, startReplicaCluster } from './helpers/replica-cluster.js'
import { IdVehicle } from './helpers/replica-vehicle.js'
import { postgresSkipReason } from './helpers/store-postgres.js'

const skip = mosquittoBinary() === null ? 'mosquitto is not installed' : await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`replica tests cannot run in CI: ${skip}`)

const VEHICLES = fleet(10)

t.test('200 reservation.create for one slot from 10 vehicles, over 2 and then 3 replicas: exactly one winner, every loser RESERVATION_CONFLICT', { skip: skip ?? false }, async (t) => {
  const c = await startReplicaCluster({ config: hubConfig({ vehicles: VEHICLES }), replicas: ['r1', 'r2', 'r3'], startReplicas: false })
  const vehicles: IdVehicle[] = []
  t.teardown(async () => {
    for (const v of vehicles) await v.close()
    await c.close()
  })
  await Promise.all([c.start('r1'), c.start('r2')])
  for (const v of VEHICLES) vehicles.push(await IdVehicle.connect(c.broker.url, c.hubId, v.vehicleId, v.password))
  const station = c.config.stations[0] as (typeof c.config.stations)[number]
  let before: Record<string, number> = {}
  for (const [round, names] of [['r1', 'r2'], ['r1', 'r2', 'r3']].entries()) {
    if (names.length === 3) await c.start('r3')
    // A slot per round, a day apart.
    const at = formatTime(Math.ceil((Date.now() + (3 + 24 * round) * 3_600_000) / 1000) * 1000)
    const args = { at, position: station.position, rangeKm: 5, stationId: station.stationId }
    const raceStarted = Date.now()
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const v = vehicles[i % vehicles.length] as IdVehicle
        return v.call('reservation.create', args, `slot-${round}-${i}`, { timeoutMs: 10_000 }).then((o) => ({ vehicleId: v.vehicleId, ...o }))
      }),
    )
    const raceMs = Date.now() - raceStarted
    const label = `[${names.length} replicas]`
    const winners = answers.filter((a) => a.answer.ok)
    t.equal(winners.length, 1, `${label} exactly one reservation.create succeeded`)
    const codes = answers.flatMap((a) => (a.answer.ok ? [] : [a.answer.error.code]))
    t.same([...new Set(codes)], ['RESERVATION_CONFLICT'], `${label} every loser is told the station is booked at that time`)
    const rows = await c.db.sql<{ vehicle_id: string }>('SELECT vehicle_id FROM reservations WHERE at_ms = $1', [Date.parse(at)])
    t.same(rows.rows.map((r) => r.vehicle_id), [winners[0]?.vehicleId], `${label} one reservation in the database, the winner's`)
    const total = await c.answered('reservation.create')
    const spread = Object.fromEntries(names.map((n) => [n, (total[n] ?? 0) - (before[n] ?? 0)]))
    before = total
    const sends = answers.reduce((n, a) => n + a.sends, 0)
    t.equal(Object.values(spread).reduce((a, b) => a + b, 0), sends, `${label} each request sent was answered once, by one replica (${JSON.stringify(spread)})`)
    for (const name of names) t.ok((spread[name] ?? 0) > 0, `${label} replica ${name} answered some of them`)
    t.comment(`figures: ${label} 200 requests (${sends - 200} sent again) answered in ${raceMs} ms, ${JSON.stringify(spread)}`)
  }
})

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
  const raceStarted = Date.now()
  const answers = await Promise.all(vehicles.map((v) => v.call('route.reserve', args, `trip-${v.vehicleId}`, { timeoutMs: 30_000, maxSends: 2 })))
  const trips = answers.filter((a) => a.answer.ok)
  t.comment(`figures: 20 route.reserve answered in ${Date.now() - raceStarted} ms`)
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
