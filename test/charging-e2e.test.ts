/** End to end: a hub, two station agents on mock boards, vehicles charging. */
import t from 'tap'
import { costMinor, formatTime } from '../protocol/index.js'
import { agentConfig, startAgentFor } from './helpers/charging-e2e.js'
import { connectVehicle, hubConfig, startTestHub } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'
import { errorReport } from '../vehicle-sim/output.js'

t.test('charging end to end: start, energy grows, stop, receipt matches the formula; busy and reserved stations refuse others', async (t) => {
  // A 60-minute lead time lets a reservation fall inside the 120-minute window around now.
  const cfg = hubConfig({ rules: { minLeadMinutes: 60, windowMinutes: 120 } })
  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  const [s1, s2] = cfg.stations
  if (!s1 || !s2) throw new Error('two stations expected')
  const a1 = await startAgentFor(agentConfig(hub, s1))
  const a2 = await startAgentFor(agentConfig(hub, s2))
  t.teardown(async () => {
    await a1.stop()
    await a2.stop()
  })
  const v1 = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  const v2 = await connectVehicle(hub.mqttUrl, 'feira', 'V2', 'v2-pass')
  t.teardown(async () => {
    await v1.close()
    await v2.close()
  })
  await waitUntil(async () => (await v1.rpc.request('station.list', {})).stations.every((s) => s.online), 10_000, 'both stations online')

  const { session } = await v1.rpc.request('charge.start', { stationId: 'FSA-1' })
  t.equal(session.stationId, 'FSA-1')
  t.ok(a1.hardware.relay.isClosed, 'the relay closed on the mock board')
  const grown = await waitUntil(async () => {
    const st = await v1.rpc.request('charge.status', { sessionId: session.sessionId })
    return st.session.energyWh > 0 ? st.session : null
  }, 10_000, 'energy to grow')
  t.ok(grown.powerW > 0, 'live power is reported')
  t.equal(grown.costMinor, costMinor(grown.energyWh, 73), 'live cost follows the tariff')

  await t.rejects(v2.rpc.request('charge.start', { stationId: 'FSA-1' }), { code: 'STATION_BUSY' }, 'a second vehicle gets STATION_BUSY')
  await t.rejects(v2.rpc.request('charge.status', { sessionId: session.sessionId }), { code: 'NOT_FOUND' }, "another vehicle cannot see the session")
  await t.rejects(v2.rpc.request('charge.stop', { sessionId: session.sessionId }), { code: 'NOT_FOUND' }, "nor stop it")

  const { receipt } = await v1.rpc.request('charge.stop', { sessionId: session.sessionId })
  t.notOk(a1.hardware.relay.isClosed, 'the relay opened')
  const meterNow = (await a1.hardware.meter.read()).energyWh
  t.ok(receipt.energyWh > 0, `energy was metered (${receipt.energyWh} Wh)`)
  t.equal(receipt.energyWh, meterNow - session.meterStartWh, 'receipt energy = stop reading - start reading')
  t.equal(receipt.costMinor, Math.round((receipt.energyWh * 73) / 1000), 'costMinor = round(energyWh * priceMinorPerKwh / 1000)')
  t.match(receipt, { sessionId: session.sessionId, stationId: 'FSA-1', hubId: 'feira', vehicleId: 'V1', priceMinorPerKwh: 73, currency: 'BRL' })
  t.same((await v1.rpc.request('charge.stop', { sessionId: session.sessionId })).receipt, receipt, 'stopping again returns the same receipt')

  // V1 reserves FSA-2 90 minutes from now: inside the window around now.
  await v1.rpc.request('reservation.create', { at: formatTime(Date.now() + 90 * 60_000), position: s2.position, rangeKm: 5, stationId: 'FSA-2' })
  await t.rejects(v2.rpc.request('charge.start', { stationId: 'FSA-2' }), { code: 'RESERVED_BY_OTHER' }, 'a reserved station refuses others')
  const own = await v1.rpc.request('charge.start', { stationId: 'FSA-2' })
  t.ok(own.session.sessionId, 'the holder of the reservation may charge')
  await v1.rpc.request('charge.stop', { sessionId: own.session.sessionId })

  const unknown = await v1.rpc.request('charge.start', { stationId: 'NOPE' }).catch((e: unknown) => e)
  t.match(unknown, { code: 'NOT_FOUND', details: { stationId: 'NOPE' } }, 'an unknown station: NOT_FOUND naming it')
  t.match(errorReport(unknown).hint, /voltway vehicle stations/, 'its hint lists the stations, not reservations or history')
  const notMine = await v1.rpc.request('charge.start', { stationId: 'FSA-1', reservationId: 'r-nope' }).catch((e: unknown) => e)
  t.match(notMine, { code: 'NOT_FOUND', details: { reservationId: 'r-nope' } }, 'an unknown reservation: NOT_FOUND naming it')
  t.match(errorReport(notMine).hint, /voltway vehicle reservations/)
})

t.test('an offline station is refused with STATION_OFFLINE', async (t) => {
  const hub = await startTestHub()
  t.teardown(() => hub.close())
  const v1 = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v1.close())
  await t.rejects(v1.rpc.request('charge.start', { stationId: 'FSA-1' }), { code: 'STATION_OFFLINE' })
})

t.test('a session the station ends by itself (maxWh reached) closes with a receipt', async (t) => {
  const cfg = hubConfig()
  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  const s1 = cfg.stations[0]
  if (!s1) throw new Error('station expected')
  const agent = await startAgentFor(agentConfig(hub, s1))
  t.teardown(() => agent.stop())
  const v1 = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v1.close())
  await waitUntil(async () => (await v1.rpc.request('station.list', {})).stations.find((s) => s.stationId === 'FSA-1')?.online, 10_000, 'FSA-1 online')
  const { session } = await v1.rpc.request('charge.start', { stationId: 'FSA-1', maxWh: 50 })
  const receipt = await waitUntil(() => hub.context.store.charging.getReceipt(session.sessionId), 10_000, 'the receipt of the session the station stopped')
  t.ok(receipt.energyWh >= 50, `stopped at the limit (${receipt.energyWh} Wh)`)
  t.equal(receipt.costMinor, costMinor(receipt.energyWh, 73))
  t.notOk(agent.hardware.relay.isClosed, 'relay open')
  const status = await v1.rpc.request('charge.status', { sessionId: session.sessionId })
  t.equal(status.session.state, 'stopped')
  t.same((await v1.rpc.request('charge.stop', { sessionId: session.sessionId })).receipt.energyWh, receipt.energyWh, 'charge.stop afterwards returns that receipt')
})
