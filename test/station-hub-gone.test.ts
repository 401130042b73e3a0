/**
 * Offline means the hub, not the broker (docs/design.md, Stations): the
 * agent's offline limit also runs while an external broker stays up and the
 * hub is gone, which the agent learns from the hub's retained state
 * (`voltway/v1/hubs/H/state`, its Last Will `online: false`).
 */
import t from 'tap'
import { topics } from '../protocol/index.js'
import { startMosquittoForAcl } from './helpers/broker-fixtures.js'
import { connectVehicle, hubConfig, tempDir as hubTempDir } from './helpers/hub.js'
import { spawnHub, withFreePorts } from './helpers/hub-process.js'
import { mosquittoBinary } from './helpers/mosquitto.js'
import { agentWithHubDouble, ManualClock, startAgent, tempDir, waitUntil } from './helpers/station-agent.js'
import { StationConfigSchema } from '../station/config.js'

const MIN = 60_000

t.test('the offline limit runs when the hub is killed (-9) while the external broker stays up: the relay opens after the limit', { skip: mosquittoBinary() ? false : 'mosquitto is not installed' }, async (t) => {
  const base = hubConfig()
  const m = await startMosquittoForAcl({ hubId: base.hubId, stations: base.stations, vehicles: base.vehicles })
  t.teardown(() => m.close())
  const cfg = await withFreePorts({ ...base, mqtt: { url: m.url, username: m.hub.username, password: m.hub.password } })
  const hub = await spawnHub(cfg, hubTempDir())
  t.teardown(() => hub.kill('SIGKILL'))
  const s1 = cfg.stations[0]!
  const clock = new ManualClock()
  const agent = await startAgent(
    StationConfigSchema.parse({
      stationId: s1.stationId,
      hubId: cfg.hubId,
      mqtt: { url: m.url, password: s1.password },
      dataDir: tempDir(),
      hardware: { board: { type: 'mock' }, relay: { pin: 7, type: 'NO' }, meter: { type: 'mock', powerKw: 22 } },
      offline: { maxChargeMinutes: 1 },
    }),
    { clock },
  )
  t.teardown(() => agent.stop())
  const v = await connectVehicle(m.url, cfg.hubId, 'V1', 'v1-pass')
  t.teardown(() => v.close())
  await waitUntil(async () => (await v.rpc.request('station.list', {})).stations.find((s) => s.stationId === s1.stationId)?.online, 10_000, 'the agent online at the hub')
  await v.rpc.request('charge.start', { stationId: s1.stationId })
  t.ok(agent.hardware.relay.isClosed, 'charging')
  t.equal(agent.link.offlineMs(), null, 'the hub is there')

  await hub.kill('SIGKILL')
  await waitUntil(() => agent.link.offlineMs() !== null, 10_000, "the hub's Last Will reaches the agent")
  t.ok(agent.link.connected, 'the broker is still up')
  clock.advance(MIN - 1000)
  await agent.tick()
  t.ok(agent.hardware.relay.isClosed, 'within the limit: still charging')
  clock.advance(2000)
  await agent.tick()
  t.notOk(agent.hardware.relay.isClosed, 'past the limit: the relay is open')
  t.equal(agent.charger.status, 'available')
  t.match(agent.outbox.pending().at(-1), { type: 'session.stopped', reason: 'offline' }, 'the session ended offline, waiting for the hub')
})

t.test("the hub's state online:false starts the offline limit and online:true ends it, on a broker that stays up", async (t) => {
  const clock = new ManualClock()
  const { agent, hub } = await agentWithHubDouble(t, { maxChargeMinutes: 30 }, { clock })
  const hubState = (online: boolean) => hub.client.publishAsync(topics.hubState('H'), JSON.stringify({ online, hubId: 'H', ts: new Date(clock.now()).toISOString() }), { qos: 1, retain: true })
  await hub.command({ op: 'start', sessionId: 'hub-blip' })
  await hubState(false)
  await waitUntil(() => agent.link.offlineMs() !== null, 5000, 'the agent hears the hub is gone')
  clock.advance(20 * MIN)
  await agent.tick()
  t.ok(agent.hardware.relay.isClosed, '20 min without the hub: within the limit')
  await hubState(true)
  await waitUntil(() => agent.link.offlineMs() === null, 5000, 'the hub is back')
  clock.advance(20 * MIN)
  await agent.tick()
  t.ok(agent.hardware.relay.isClosed, 'the offline clock stopped when the hub came back')
  await hubState(false)
  await waitUntil(() => agent.link.offlineMs() !== null, 5000, 'gone again')
  clock.advance(31 * MIN)
  await agent.tick()
  t.notOk(agent.hardware.relay.isClosed, '31 min without the hub: the relay is open')
  await hub.client.publishAsync(topics.hubState('H'), '', { qos: 1, retain: true })
})

t.test('with offline.maxChargeMinutes 0 the relay opens as soon as the hub state says it is gone', async (t) => {
  const { agent, hub } = await agentWithHubDouble(t, { maxChargeMinutes: 0 })
  await hub.command({ op: 'start', sessionId: 'zero' })
  await hub.client.publishAsync(topics.hubState('H'), JSON.stringify({ online: false, hubId: 'H', ts: new Date().toISOString() }), { qos: 1, retain: true })
  await waitUntil(() => !agent.hardware.relay.isClosed, 5000, 'relay opened on its own (no tick from the test)')
  t.ok(agent.link.connected, 'while the broker is up')
})
