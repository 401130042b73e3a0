/**
 * The hub's operator commands to stations (hub/charging/station-control.ts):
 * disable and enable over the station's cmd topic, against a real agent.
 */
import t, { type Test } from 'tap'
import { FAULT_CODES } from '../station/errors.js'
import { agentConfig, startAgentFor } from './helpers/charging-e2e.js'
import { connectVehicle, hubConfig, startTestHub } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'

async function rig(t: Test) {
  const cfg = hubConfig()
  const hub = await startTestHub(cfg, { commandTimeoutMs: 5000 })
  t.teardown(() => hub.close())
  const agent = await startAgentFor(agentConfig(hub, cfg.stations[0]!))
  t.teardown(() => agent.stop())
  const v = await connectVehicle(hub.mqttUrl, cfg.hubId, 'V1', 'v1-pass')
  t.teardown(() => v.close())
  const seen = async () => (await v.rpc.request('station.list', {})).stations.find((s) => s.stationId === 'FSA-1')
  await waitUntil(async () => (await seen())?.online, 10_000, 'the agent online')
  return { hub, agent, v, seen }
}

t.test('an operator disable shows the station disabled to vehicles and charge.start is refused STATION_BUSY (status disabled); enable makes it available', async (t) => {
  const { hub, agent, v, seen } = await rig(t)
  await hub.stationControl.disable('FSA-1')
  t.equal(agent.charger.status, 'disabled')
  await waitUntil(async () => (await seen())?.status === 'disabled', 5000, 'vehicles see disabled')
  await t.rejects(v.rpc.request('charge.start', { stationId: 'FSA-1' }), { code: 'STATION_BUSY', details: { status: 'disabled' } })
  await hub.stationControl.enable('FSA-1')
  await waitUntil(async () => (await seen())?.status === 'available', 5000, 'available again')
  t.match(await v.rpc.request('charge.start', { stationId: 'FSA-1' }), { session: { stationId: 'FSA-1' } })
})

t.test("an operator enable of a station whose fault persists is refused with the station's code and the station stays faulted", async (t) => {
  const { hub, agent, seen } = await rig(t)
  await agent.charger.fault(FAULT_CODES.METER_READ_FAILED, 'simulated')
  await waitUntil(async () => (await seen())?.status === 'faulted', 5000, 'vehicles see faulted')
  agent.hardware.mock?.meter?.failNextRead('HW_TIMEOUT')
  await t.rejects(hub.stationControl.enable('FSA-1'), { code: 'METER_FAULT', details: { stationCode: 'METER_FAULT' } })
  t.equal(agent.charger.status, 'faulted')
  await hub.stationControl.enable('FSA-1')
  await waitUntil(async () => (await seen())?.status === 'available', 5000, 'cleared by the second enable, no restart')
})

t.test('operator commands to an unknown or offline station are refused NOT_FOUND and STATION_OFFLINE', async (t) => {
  const hub = await startTestHub(hubConfig())
  t.teardown(() => hub.close())
  await t.rejects(hub.stationControl.disable('NOPE'), { code: 'NOT_FOUND' })
  await t.rejects(hub.stationControl.disable('FSA-2'), { code: 'STATION_OFFLINE' })
})
