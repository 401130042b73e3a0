/**
 * Charging survives crashes: kill -9 of the station agent and of the hub in
 * the middle of a session. The relay is open once the agent is gone, no event
 * is lost or counted twice, and the receipt bills the meter difference.
 */
import t from 'tap'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { readMockBoardState } from '../hw/mock-watchdog.js'
import { StationConfigSchema } from '../station/config.js'
import { startAgentFor } from './helpers/charging-e2e.js'
import { connectVehicle, hubConfig, startTestHub, tempDir } from './helpers/hub.js'
import { spawnHub, withFreePorts } from './helpers/hub-process.js'
import { waitUntil } from './helpers/net.js'
import { spawnAgent, writeStationConfig } from './helpers/station-agent.js'

function stationCfg(url: string, dataDir: string, watchdogMs = 500) {
  return StationConfigSchema.parse({
    stationId: 'FSA-1',
    hubId: 'feira',
    mqtt: { url, password: 's3cret-1' },
    dataDir,
    hardware: { board: { type: 'mock', watchdogMs }, relay: { pin: 7, type: 'NO' }, meter: { type: 'mock', powerKw: 360 } },
    telemetryIntervalMs: 100,
    offline: { maxChargeMinutes: 30 },
  })
}

/** Every event of a station stored once, with seqs 1..n and no gap. */
function eventsOf(dbFile: string, stationId: string): Array<{ seq: number; type: string; body: string }> {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true })
  try {
    return db.prepare('SELECT seq, type, body FROM station_events WHERE station_id = ? ORDER BY seq').all(stationId) as Array<{ seq: number; type: string; body: string }>
  } finally {
    db.close()
  }
}

t.test('kill -9 of the agent mid-session: the relay is open, the restarted agent ends the session once, the receipt bills the meter difference', async (t) => {
  const cfg = hubConfig()
  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  const dataDir = tempDir('voltway-agent-')
  const file = writeStationConfig(dataDir, stationCfg(hub.mqttUrl, dataDir))
  const first = spawnAgent(file)
  t.teardown(() => {
    if (first.child.exitCode === null) first.child.kill('SIGKILL')
  })
  const v1 = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v1.close())
  const online = async (): Promise<boolean | undefined> => (await v1.rpc.request('station.list', {})).stations.find((s) => s.stationId === 'FSA-1')?.online
  await waitUntil(online, 20_000, 'agent online')
  const { session } = await v1.rpc.request('charge.start', { stationId: 'FSA-1' })
  await waitUntil(async () => (await v1.rpc.request('charge.status', { sessionId: session.sessionId })).session.energyWh >= 20, 10_000, 'energy flowing')

  first.child.kill('SIGKILL')
  await first.exited
  await waitUntil(async () => (await online()) === false, 10_000, 'the hub sees the agent gone (Last Will)')
  const board = await waitUntil(() => {
    const b = readMockBoardState(dataDir)
    return b?.relay === 'open' ? b : null
  }, 10_000, 'the board watchdog to open the relay')
  t.ok(board.watchdogTripped, 'the relay was opened by the board watchdog after the agent died')
  t.equal((await v1.rpc.request('charge.status', { sessionId: session.sessionId })).session.state, 'charging', 'the hub still has the session open')

  const second = spawnAgent(file)
  t.teardown(() => {
    if (second.child.exitCode === null) second.child.kill('SIGKILL')
  })
  const receipt = await waitUntil(() => hub.context.store.charging.getReceipt(session.sessionId), 20_000, 'the receipt after the restarted agent reports the end')
  const register = readMockBoardState(dataDir)?.energyWh ?? NaN
  t.equal(receipt.energyWh, register - session.meterStartWh, 'receipt energy = the board register at the trip - the start reading')
  t.ok(receipt.energyWh >= 20)
  const events = eventsOf(join(cfg.dataDir, 'hub.sqlite'), 'FSA-1')
  t.same(events.map((e) => e.seq), events.map((_, i) => i + 1), 'every event stored once, none missing')
  t.equal(events.filter((e) => e.type === 'session.stopped' && e.body.includes(session.sessionId)).length, 1, 'the session ended exactly once')
  t.same((await v1.rpc.request('charge.stop', { sessionId: session.sessionId })).receipt.energyWh, receipt.energyWh, 'charge.stop returns that receipt')
  second.child.kill('SIGTERM')
  await second.exited
})

t.test('kill -9 of the hub mid-session: the station keeps charging, reconnects to the restarted hub, and the receipt bills the meter difference', async (t) => {
  const dir = tempDir()
  const cfg = await withFreePorts(hubConfig({ dataDir: dir }))
  let hub = await spawnHub(cfg, dir)
  t.teardown(() => hub.kill('SIGKILL'))
  const agent = await startAgentFor(stationCfg(hub.mqttUrl, join(tempDir('voltway-agent-'), 'FSA-1')))
  t.teardown(() => agent.stop())
  let v1 = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  await waitUntil(async () => (await v1.rpc.request('station.list', {})).stations.find((s) => s.stationId === 'FSA-1')?.online, 20_000, 'agent online')
  const { session } = await v1.rpc.request('charge.start', { stationId: 'FSA-1' })
  await waitUntil(async () => (await v1.rpc.request('charge.status', { sessionId: session.sessionId })).session.energyWh >= 10, 10_000, 'energy flowing')
  await v1.client.endAsync(true)

  await hub.kill('SIGKILL')
  const atCrash = (await agent.hardware.meter.read()).energyWh
  await waitUntil(async () => (await agent.hardware.meter.read()).energyWh >= atCrash + 20, 10_000, 'energy still flowing while the hub is down')
  t.ok(agent.hardware.relay.isClosed, 'losing the hub does not cut the session at once')

  hub = await spawnHub(cfg, dir)
  v1 = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v1.close())
  await waitUntil(async () => (await v1.rpc.request('station.list', {})).stations.find((s) => s.stationId === 'FSA-1')?.online, 20_000, 'agent back online at the restarted hub')
  const status = await v1.rpc.request('charge.status', { sessionId: session.sessionId })
  t.equal(status.session.state, 'charging', 'the restarted hub knows the session')
  const { receipt } = await v1.rpc.request('charge.stop', { sessionId: session.sessionId })
  const meter = (await agent.hardware.meter.read()).energyWh
  t.notOk(agent.hardware.relay.isClosed, 'relay open after stop')
  t.equal(receipt.energyWh, meter - session.meterStartWh, 'receipt energy = stop reading - start reading')
  t.ok(receipt.energyWh >= 30, `energy metered while the hub was down is billed (${receipt.energyWh} Wh)`)
  await waitUntil(() => eventsOf(join(dir, 'hub.sqlite'), 'FSA-1').some((e) => e.type === 'session.stopped'), 10_000, 'the session.stopped event stored')
  const events = eventsOf(join(dir, 'hub.sqlite'), 'FSA-1')
  t.same(events.map((e) => e.seq), events.map((_, i) => i + 1), 'every event stored once, none missing')
  t.equal(events.filter((e) => e.type === 'session.started').length, 1)
  t.equal(events.filter((e) => e.type === 'session.stopped').length, 1)
})
