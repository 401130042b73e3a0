/**
 * Losing the hub (docs/design.md, Stations): a running session goes on within
 * offline.maxChargeMinutes, metered, and its events arrive when the link is
 * back; past the limit the relay opens (reason `offline`). Time is a manual
 * clock, so "30 minutes" takes no time.
 */
import t, { type Test } from 'tap'
import { ManualClock, RestartableBroker, startAgent, stationConfig, tempDir, waitUntil } from './helpers/station-agent.js'
import { HubDouble } from './helpers/station-hub.js'
import type { StationAgent } from '../station/agent.js'
import type { StationEvent } from '../protocol/index.js'

const MIN = 60_000

/**
 * Wait for an event after the broker came back. The agent re-sends on its
 * reconnect; if the hub double resubscribed only after that, the agent's
 * no-ack re-send (resendAfterMs, on the clock) delivers it: move the clock and tick.
 */
function arrives(hub: HubDouble, clock: ManualClock, agent: StationAgent, pred: (e: StationEvent) => boolean, what: string): Promise<StationEvent> {
  return waitUntil(async () => {
    const found = hub.deliveries.find(pred)
    if (found) return found
    clock.advance(1000)
    await agent.tick()
    return undefined
  }, 10_000, what, 50)
}

async function setup(t: Test, maxChargeMinutes: number) {
  const broker = new RestartableBroker()
  await broker.start()
  const clock = new ManualClock()
  const agent = await startAgent(stationConfig({ url: broker.url, dataDir: tempDir(), maxChargeMinutes }), { clock, resendAfterMs: 5000 })
  const hub = await HubDouble.connect(broker.url, 'S1')
  t.teardown(async () => {
    await agent.stop()
    await hub.close()
    await broker.stop()
  })
  await hub.waitState((s) => s.online, 'online')
  return { broker, clock, agent, hub }
}

t.test('a session within the offline limit keeps charging while the hub is unreachable, and its events arrive after reconnect', async (t) => {
  const { broker, clock, agent, hub } = await setup(t, 30)
  const started = await hub.command({ op: 'start', sessionId: 'off-1', maxWh: 5000 })
  await broker.stop()
  await waitUntil(() => !agent.link.connected, 5000, 'agent notices the hub is gone')
  clock.advance(10 * MIN) // 3,667 Wh at 22 kW
  await agent.tick()
  t.ok(agent.hardware.relay.isClosed, '10 min offline: still charging')
  t.equal(agent.charger.status, 'charging')
  clock.advance(5 * MIN) // 5,500 Wh: past maxWh, while offline
  await agent.tick()
  t.notOk(agent.hardware.relay.isClosed, 'the energy limit still applies offline')
  t.ok(agent.outbox.pending().some((e) => e.type === 'session.stopped'), 'session.stopped waits in the outbox')

  await broker.start() // same port: the hub is back
  const stop = await arrives(hub, clock, agent, (e) => e.type === 'session.stopped' && e.sessionId === 'off-1', 'the offline session end')
  t.match(stop, { reason: 'limit', meterStartWh: started.meterWh, meterWh: 5500, energyWh: 5500 })
  await waitUntil(() => agent.outbox.pendingCount === 0, 5000, 'acked after reconnect')
  await hub.waitState((s) => s.online && s.status === 'available', 'online again')
})

t.test('the hub unreachable longer than offline.maxChargeMinutes opens the relay (reason offline)', async (t) => {
  const { broker, clock, agent, hub } = await setup(t, 30)
  await hub.command({ op: 'start', sessionId: 'off-2' })
  await broker.stop()
  await waitUntil(() => !agent.link.connected, 5000, 'agent notices the hub is gone')
  clock.advance(29 * MIN)
  await agent.tick()
  t.ok(agent.hardware.relay.isClosed, '29 min: within the limit')
  clock.advance(2 * MIN)
  await agent.tick()
  t.notOk(agent.hardware.relay.isClosed, '31 min: relay open')
  t.equal(agent.charger.status, 'available')
  await broker.start()
  const stop = await arrives(hub, clock, agent, (e) => e.type === 'session.stopped', 'session.stopped')
  t.match(stop, { reason: 'offline', sessionId: 'off-2', energyWh: 11_366 })
})

t.test('with offline.maxChargeMinutes 0 the relay opens as soon as the hub is lost', async (t) => {
  const { broker, clock, agent, hub } = await setup(t, 0)
  await hub.command({ op: 'start', sessionId: 'off-3' })
  t.ok(agent.hardware.relay.isClosed)
  await broker.stop()
  await waitUntil(() => !agent.hardware.relay.isClosed, 5000, 'relay opened on its own (no tick from the test)')
  await broker.start()
  t.match(await arrives(hub, clock, agent, (e) => e.type === 'session.stopped', 'session.stopped'), { reason: 'offline', sessionId: 'off-3' })
})

t.test('a short hub outage with a reconnect does not cut the session', async (t) => {
  const { broker, clock, agent, hub } = await setup(t, 30)
  await hub.command({ op: 'start', sessionId: 'blip' })
  t.ok(broker.kick('S1'))
  await waitUntil(() => !agent.link.connected, 5000, 'disconnected')
  clock.advance(MIN)
  await agent.tick()
  await waitUntil(() => agent.link.connected, 5000, 'reconnected')
  clock.advance(40 * MIN)
  await agent.tick()
  t.ok(agent.hardware.relay.isClosed, 'the offline clock restarted on reconnect')
  t.equal(agent.charger.sessionId, 'blip')
})
