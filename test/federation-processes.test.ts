/**
 * The federation between real hub PROCESSES (`voltway hub --config`) on
 * loopback: a trip across three companies over MQTT and HTTP, and kill -9 of
 * the coordinator while a later hop hangs.
 */
import t from 'tap'
import { routeIdOf } from '../hub/routes/route-id.js'
import { VoltwayError, formatTime } from '../protocol/index.js'
import { BAHIA, BAHIA_LINKS, startHangingServer } from './helpers/federation-hubs.js'
import { processFederation } from './helpers/federation-processes.js'
import { connectVehicle, type TestVehicle } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'

const FROM = { lat: -12.251, lon: -38.951 }
const inMinutes = (m: number): string => formatTime(Math.ceil((Date.now() + m * 60_000) / 1000) * 1000)

t.test('a trip across three hub processes is booked at each, cancelled everywhere, and history survives a dead hub', async (t) => {
  const pf = await processFederation({ specs: BAHIA, links: BAHIA_LINKS })
  const vehicles: TestVehicle[] = []
  t.teardown(async () => {
    for (const v of vehicles) await v.close().catch(() => undefined)
    await pf.close()
  })
  const connect = async (hubId: string): Promise<TestVehicle> => {
    const v = await connectVehicle(pf.procs[hubId]?.mqttUrl as string, hubId, 'V1', 'v1-pass')
    vehicles.push(v)
    return v
  }
  const feira = await connect('feira')
  const page = await feira.rpc.request('route.list', { destination: 'ilheus' })
  t.same(page.route.hops.map((h) => [h.hubId, h.city]), [['feira', 'Feira de Santana'], ['salvador', 'Salvador'], ['ilheus', 'Ilhéus']], 'peer names from their GET /hub')
  const times = [inMinutes(180), inMinutes(300), inMinutes(600)]
  const { trip } = await feira.rpc.request('route.reserve', { routeId: page.route.routeId, times, position: FROM, rangeKm: 250 })
  t.same(trip.legs.map((l) => [l.hubId, l.stationId]), [['feira', 'FSA-1'], ['salvador', 'SSA-1'], ['ilheus', 'IOS-1']])
  for (const leg of trip.legs) {
    const v = leg.hubId === 'feira' ? feira : await connect(leg.hubId)
    const { reservations } = await v.rpc.request('reservation.list', {})
    t.same(reservations.map((r) => [r.reservationId, r.stationId, r.at]), [[leg.reservationId, leg.stationId, leg.at]], `visible at ${leg.hubId}`)
  }
  t.same(await feira.rpc.request('trip.cancel', { tripId: trip.tripId }), { cancelled: 3 })
  for (const v of vehicles) t.same((await v.rpc.request('reservation.list', {})).reservations, [], 'released')

  await pf.procs.ilheus?.kill('SIGKILL')
  const history = await feira.rpc.request('history.list', {})
  t.same([history.partial, history.unreachableHubs], [true, ['ilheus']])
})

t.test('kill -9 of the coordinator while a later hop hangs: remote holds expire by their TTL, the restart leaves no half-made trip', async (t) => {
  const hang = await startHangingServer()
  const pf = await processFederation({
    specs: BAHIA.slice(0, 2),
    links: [{ from: 'feira', to: 'salvador', distanceKm: 108 }, { from: 'salvador', to: 'lento', distanceKm: 90 }],
    fakePeers: [{ hubId: 'lento', url: hang.url }],
    rules: { holdTtlSeconds: 3 },
  })
  let vehicle: TestVehicle | null = null
  t.teardown(async () => {
    await vehicle?.close().catch(() => undefined)
    await pf.close()
    await hang.close()
  })
  vehicle = await connectVehicle(pf.procs.feira?.mqttUrl as string, 'feira', 'V1', 'v1-pass')
  const times = [inMinutes(180), inMinutes(300), inMinutes(400)]
  // The route id is a function of the hops alone, so the vehicle can name it without route.list (lento cannot describe itself).
  const pending = vehicle.rpc
    .request('route.reserve', { routeId: routeIdOf(['feira', 'salvador', 'lento']), times, position: FROM, rangeKm: 250 })
    .catch((e: unknown) => e)
  await waitUntil(() => hang.received().includes('POST /federation/v1/holds'), 10_000, 'the hold request to the hanging hop')
  const ssa = { lat: -12.97, lon: -38.5 }
  t.same(await pf.stationsFree('salvador', 'feira', ssa, times[1] as string), { 'SSA-1': false, 'SSA-2': true }, 'salvador holds a station for the trip')

  const killedAt = Date.now()
  await pf.procs.feira?.kill('SIGKILL')
  await vehicle.close().catch(() => undefined)
  vehicle = null
  t.ok((await pending) instanceof Error || (await pending) instanceof VoltwayError, 'the vehicle gets no trip')

  await waitUntil(async () => (await pf.stationsFree('salvador', 'feira', ssa, times[1] as string))['SSA-1'], 10_000, "salvador's hold to expire")
  const freedAfter = Date.now() - killedAt
  t.ok(freedAfter < 6000, `salvador's hold was gone ${freedAfter} ms after the kill (TTL 3 s)`)

  await pf.start('feira')
  // Recovery runs in the background after start-up (it waits on the hung hub at most one request timeout).
  await waitUntil(async () => (await pf.withStore('feira', (s) => s.trips.listTrips(['trying', 'confirming', 'aborting', 'cancelling']))).length === 0, 15_000, 'recovery after the restart')
  const state = await pf.withStore('feira', async (s) => ({
    unfinished: await s.trips.listTrips(['trying', 'confirming', 'aborting', 'cancelling']),
    all: await s.trips.listTrips(['aborted', 'confirmed']),
    counts: await s.reservations.counts(Date.now()),
  }))
  t.same(state.unfinished, [], 'no half-made trip after the restart')
  t.same(state.all.map((x) => [x.state, x.vehicleId]), [['aborted', 'V1']], 'the trip was undone')
  t.same(state.counts, { reservations: 0, activeHolds: 0 })
  t.same(await pf.withStore('salvador', (s) => s.reservations.counts(Date.now())), { reservations: 0, activeHolds: 0 })
  const releases = await pf.withStore('feira', (s) => s.trips.listReleases())
  t.ok(releases.every((r) => r.hubId === 'lento'), 'only the hung hub is left to the release queue (until its TTL)')
})

t.test('three hub processes, the last one frozen (SIGSTOP) mid-trip and the coordinator killed: nothing stays booked anywhere once it thaws', async (t) => {
  const pf = await processFederation({ specs: BAHIA, links: BAHIA_LINKS, rules: { holdTtlSeconds: 3 } })
  let vehicle: TestVehicle | null = null
  t.teardown(async () => {
    pf.procs.ilheus?.proc.kill('SIGCONT')
    await vehicle?.close().catch(() => undefined)
    await pf.close()
  })
  vehicle = await connectVehicle(pf.procs.feira?.mqttUrl as string, 'feira', 'V1', 'v1-pass')
  const page = await vehicle.rpc.request('route.list', { destination: 'ilheus' })
  const times = [inMinutes(180), inMinutes(300), inMinutes(600)]
  pf.procs.ilheus?.proc.kill('SIGSTOP')
  const pending = vehicle.rpc.request('route.reserve', { routeId: page.route.routeId, times, position: FROM, rangeKm: 250 }).catch((e: unknown) => e)
  const ssa = { lat: -12.97, lon: -38.5 }
  await waitUntil(async () => !(await pf.stationsFree('salvador', 'feira', ssa, times[1] as string))['SSA-1'], 10_000, 'the salvador hold')
  // The POST to the frozen hub leaves right after salvador's hold is placed; the kernel accepts it for the frozen process.
  await pf.procs.feira?.kill('SIGKILL')
  await vehicle.close().catch(() => undefined)
  vehicle = null
  await pending

  await waitUntil(async () => (await pf.stationsFree('salvador', 'feira', ssa, times[1] as string))['SSA-1'], 10_000, "salvador's hold to expire")
  await pf.start('feira')
  // Recovery runs in the background after start-up (the frozen hub costs it one request timeout).
  await waitUntil(async () => (await pf.withStore('feira', (s) => s.trips.listTrips(['trying', 'confirming', 'aborting']))).length === 0, 15_000, 'recovery after the restart')
  t.pass('no half-made trip after the restart')

  // Thaw ilheus: it may now process the POST the dead coordinator sent it, and the restarted one's release.
  pf.procs.ilheus?.proc.kill('SIGCONT')
  const ios = { lat: -14.79, lon: -39.04 }
  await waitUntil(async () => {
    const free = await pf.stationsFree('ilheus', 'feira', ios, times[2] as string)
    return free['IOS-1'] && free['IOS-2']
  }, 15_000, 'ilheus to hold nothing')
  for (const hubId of ['feira', 'salvador', 'ilheus']) {
    t.same(await pf.withStore(hubId, (s) => s.reservations.counts(Date.now())), { reservations: 0, activeHolds: 0 }, `${hubId}: nothing booked`)
  }
})
