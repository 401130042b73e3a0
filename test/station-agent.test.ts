/**
 * Station agent, in-process against aedes, with a hub double and a manual
 * clock (energy flows on the mock meter only when the test moves the clock).
 */
import t, { type Test } from 'tap'
import type { MockMeter } from '../hw/mock-meter.js'
import type { StationAgent } from '../station/agent.js'
import { ManualClock, RestartableBroker, startAgent, stationConfig, tempDir, waitUntil } from './helpers/station-agent.js'
import { HubDouble } from './helpers/station-hub.js'

interface Rig {
  broker: RestartableBroker
  hub: HubDouble
  agent: StationAgent
  clock: ManualClock
  meter: MockMeter
  dataDir: string
}

async function rig(t: Test, opts: { maxChargeMinutes?: number } = {}): Promise<Rig> {
  const broker = new RestartableBroker()
  await broker.start()
  const clock = new ManualClock()
  const dataDir = tempDir()
  const agent = await startAgent(stationConfig({ url: broker.url, dataDir, ...opts }), { clock })
  const hub = await HubDouble.connect(broker.url, 'S1')
  await hub.waitState((s) => s.online, 'the agent online')
  const meter = agent.hardware.mock?.meter
  if (!meter) throw new Error('expected the mock meter')
  t.teardown(async () => {
    await agent.stop()
    await hub.close()
    await broker.stop()
  })
  return { broker, hub, agent, clock, meter, dataDir }
}

t.test('the agent publishes a retained state on connect, and the broker publishes its Last Will (online:false) when it dies abruptly', async (t) => {
  const broker = new RestartableBroker()
  await broker.start()
  t.teardown(() => broker.stop())
  const agent = await startAgent(stationConfig({ url: broker.url, dataDir: tempDir() }))
  // A subscriber that arrives later still gets the state: it is retained.
  const hub = await HubDouble.connect(broker.url, 'S1')
  t.teardown(() => hub.close())
  const online = await hub.waitState((s) => s.online, 'retained online state')
  t.match(online, { online: true, status: 'available', sessionId: null, meterWh: 0, agentVersion: /^\d+\.\d+\.\d+/ })
  agent.crash()
  const will = await hub.waitState((s) => !s.online, 'the Last Will')
  t.equal(will.online, false)
  t.equal(will.status, 'available')
  const late = await HubDouble.connect(broker.url, 'S1')
  t.teardown(() => late.close())
  await late.waitState((s) => !s.online, 'retained will for a late subscriber')
  t.same(hub.invalid, [], 'every message the agent sent validates')
})

t.test('start closes the relay and energy flows on the mock meter; stop opens it and session.stopped carries energyWh = meter difference', async (t) => {
  const { hub, agent, clock, meter } = await rig(t)
  t.notOk(agent.hardware.relay.isClosed, 'relay open at start-up')
  const started = await hub.command({ op: 'start', sessionId: 'sess-1' })
  t.match(started, { ok: true, meterWh: 0 })
  t.ok(agent.hardware.relay.isClosed, 'relay closed')
  t.ok(meter.flowing, 'energy flows')
  await hub.waitState((s) => s.status === 'charging' && s.sessionId === 'sess-1', 'charging state')
  clock.advance(60_000)
  await agent.tick()
  const tel = await waitUntil(() => hub.telemetry.at(-1), 5000, 'telemetry')
  t.match(tel, { sessionId: 'sess-1', powerW: 22_000, meterWh: 366 })
  const stopped = await hub.command({ op: 'stop', sessionId: 'sess-1' })
  t.match(stopped, { ok: true, meterWh: 366 })
  t.notOk(agent.hardware.relay.isClosed, 'relay open after stop')
  t.notOk(meter.flowing)
  const start = await hub.waitEvent((e) => e.type === 'session.started', 'session.started')
  const stop = await hub.waitEvent((e) => e.type === 'session.stopped', 'session.stopped')
  t.match(start, { seq: 1, sessionId: 'sess-1', meterStartWh: 0, meterWh: 0 })
  t.match(stop, { seq: 2, sessionId: 'sess-1', reason: 'requested', meterStartWh: 0, meterWh: 366, energyWh: 366 })
  await hub.waitState((s) => s.status === 'available' && s.sessionId === null, 'available again')
  // Stop is idempotent too.
  t.match(await hub.command({ op: 'stop', sessionId: 'sess-1' }), { ok: true, meterWh: 366 })
  t.same(hub.invalid, [])
})

t.test('a duplicate start is idempotent (by command id and by sessionId); a start for another session gets STATION_BUSY', async (t) => {
  const { hub, agent } = await rig(t)
  const first = await hub.command({ id: 'cmd-1', op: 'start', sessionId: 'sess-1', maxWh: 1000 })
  t.match(first, { ok: true })
  hub.results.delete('cmd-1')
  t.same(await hub.command({ id: 'cmd-1', op: 'start', sessionId: 'sess-1', maxWh: 1000 }), first, 'same id: same answer')
  t.match(await hub.command({ id: 'cmd-2', op: 'start', sessionId: 'sess-1' }), { ok: true, meterWh: first.meterWh }, 'same session: ok')
  t.match(await hub.command({ op: 'start', sessionId: 'sess-2' }), { ok: false, error: { code: 'STATION_BUSY' } })
  t.equal(agent.charger.sessionId, 'sess-1')
  await hub.command({ op: 'stop' })
  t.equal(hub.events.filter((e) => e.type === 'session.started').length, 1, 'one session.started')
  t.match(await hub.command({ op: 'start', sessionId: 'sess-1' }), { ok: false, error: { code: 'SESSION_ENDED' } }, 'an ended session does not start again')
})

t.test('garbage on cmd and ack is ignored or answered ok:false, never crashes the agent', async (t) => {
  const { hub, agent } = await rig(t)
  await hub.sendRaw('not json')
  await hub.sendRaw('[1,2]')
  await hub.sendRaw('{"op":"start","sessionId":"x"}')
  await hub.sendRaw('{"__proto__":{"x":1},"id":"p1","op":"start"}')
  await hub.sendRaw(Buffer.alloc(100_000, 'a'))
  await hub.ackRaw('{"seq":"all"}')
  await hub.ackRaw('nope')
  t.match(await hub.command({ id: 'bad-op', op: 'fly' as 'start' }), { id: 'bad-op', ok: false, error: { code: 'BAD_REQUEST', message: /op/ } })
  t.match(await hub.command({ id: 'bad-wh', op: 'start', sessionId: 's', maxWh: -5 }), { ok: false, error: { code: 'BAD_REQUEST', message: /maxWh/ } })
  t.match(await hub.command({ op: 'start' }), { ok: false, error: { code: 'BAD_REQUEST', message: /sessionId/ } })
  t.match(await hub.command({ op: 'start', sessionId: 'good' }), { ok: true }, 'still works')
  t.equal(agent.charger.status, 'charging')
  t.match(hub.results.get('p1'), { id: 'p1', ok: false, error: { code: 'BAD_REQUEST', message: /__proto__/ } }, 'a command with a readable id and a __proto__ key is answered with its id')
  t.equal(hub.results.size, 5, 'only commands with a readable id were answered')
})

t.test('start while disabled is refused; disable while charging ends the session; enable makes it available', async (t) => {
  const { hub, agent } = await rig(t)
  await hub.command({ op: 'start', sessionId: 'a' })
  t.match(await hub.command({ op: 'disable' }), { ok: true })
  t.notOk(agent.hardware.relay.isClosed)
  await hub.waitEvent((e) => e.type === 'session.stopped' && e.reason === 'disabled', 'stopped: disabled')
  await hub.waitState((s) => s.status === 'disabled', 'disabled state')
  t.match(await hub.command({ op: 'start', sessionId: 'b' }), { ok: false, error: { code: 'STATION_DISABLED' } })
  t.match(await hub.command({ op: 'enable' }), { ok: true })
  await hub.waitState((s) => s.status === 'available', 'available')
  t.match(await hub.command({ op: 'start', sessionId: 'b' }), { ok: true })
})

t.test('maxWh stops the session with reason limit', async (t) => {
  const { hub, agent, clock } = await rig(t)
  await hub.command({ op: 'start', sessionId: 'lim', maxWh: 100 })
  clock.advance(10_000) // 61 Wh at 22 kW
  await agent.tick()
  t.ok(agent.hardware.relay.isClosed, 'below the limit: still charging')
  clock.advance(10_000) // 122 Wh
  await agent.tick()
  t.notOk(agent.hardware.relay.isClosed, 'relay opened at the limit')
  const stop = await hub.waitEvent((e) => e.type === 'session.stopped', 'session.stopped')
  t.match(stop, { reason: 'limit', energyWh: 122, sessionId: 'lim' })
  await hub.waitState((s) => s.status === 'available', 'available')
})

t.test('a meter read failure opens the relay, emits a fault event and ends the session with reason fault', async (t) => {
  const { hub, agent, clock, meter } = await rig(t)
  await hub.command({ op: 'start', sessionId: 'f1' })
  clock.advance(30_000)
  await agent.tick()
  meter.failNextRead('HW_TIMEOUT')
  clock.advance(30_000)
  await agent.tick()
  t.notOk(agent.hardware.relay.isClosed, 'relay open')
  const fault = await hub.waitEvent((e) => e.type === 'fault', 'fault event')
  t.match(fault, { code: 'METER_READ_FAILED', sessionId: 'f1', message: /HW_TIMEOUT/ })
  const stop = await hub.waitEvent((e) => e.type === 'session.stopped', 'session.stopped')
  t.match(stop, { reason: 'fault', energyWh: 183, meterWh: 183 }, 'energy up to the last good reading')
  t.ok(stop.seq > fault.seq, 'fault first, then the session end')
  await hub.waitState((s) => s.status === 'faulted', 'faulted state')
  t.match(await hub.command({ op: 'start', sessionId: 'f2' }), { ok: false, error: { code: 'STATION_FAULTED' } })
  t.match(await hub.command({ op: 'enable' }), { ok: true }, 'enable clears the fault after a good reading')
  t.match(await hub.command({ op: 'start', sessionId: 'f2' }), { ok: true })
})

t.test('a backwards meter register is a fault (relay open, fault event, session ends)', async (t) => {
  const { hub, agent, clock, meter } = await rig(t)
  await hub.command({ op: 'start', sessionId: 'b1' })
  clock.advance(60_000)
  await agent.tick()
  meter.emitReading({ energyWh: 10 })
  clock.advance(1000)
  await agent.tick()
  t.notOk(agent.hardware.relay.isClosed)
  t.match(await hub.waitEvent((e) => e.type === 'fault', 'fault'), { code: 'METER_BACKWARDS', sessionId: 'b1' })
  t.match(await hub.waitEvent((e) => e.type === 'session.stopped', 'stopped'), { reason: 'fault', energyWh: 366 }, 'never billed from the bad value')
})

t.test('a register that jumps by more than the rated power allows is a METER_JUMP fault (relay open, fault event, session ends with the last good reading)', async (t) => {
  const { hub, agent, clock, meter } = await rig(t)
  await hub.command({ op: 'start', sessionId: 'j1' })
  clock.advance(60_000)
  await agent.tick()
  t.ok(agent.hardware.relay.isClosed, '22 kW for a minute (366 Wh) is within the mock meter\'s rating')
  meter.emitReading({ energyWh: 50_000 })
  clock.advance(1000)
  await agent.tick()
  t.notOk(agent.hardware.relay.isClosed, 'relay open')
  t.match(await hub.waitEvent((e) => e.type === 'fault', 'fault'), { code: 'METER_JUMP', sessionId: 'j1', message: /jumped by/ })
  t.match(await hub.waitEvent((e) => e.type === 'session.stopped', 'stopped'), { reason: 'fault', energyWh: 366 }, 'never billed from the jumped value')
})

t.test('a stale meter (same register while it reports power flowing) is detected; an idle car is not stale', async (t) => {
  const { hub, agent, clock, meter } = await rig(t)
  // A car that draws nothing for a minute is not a stale meter.
  meter.setPluggedIn(false)
  await hub.command({ op: 'start', sessionId: 'idle' })
  for (let i = 0; i < 6; i++) {
    clock.advance(10_000)
    await agent.tick()
  }
  t.ok(agent.hardware.relay.isClosed, 'power 0 and a constant register: still charging')
  await hub.command({ op: 'stop' })
  meter.setPluggedIn(true)
  await hub.command({ op: 'start', sessionId: 'stale' })
  clock.advance(5000)
  await agent.tick()
  meter.freeze()
  clock.advance(5000)
  await agent.tick()
  t.ok(agent.hardware.relay.isClosed, 'not yet: stuck only 5 s')
  clock.advance(6000)
  await agent.tick()
  t.notOk(agent.hardware.relay.isClosed, 'stale meter: relay open')
  t.match(await hub.waitEvent((e) => e.type === 'fault', 'fault'), { code: 'METER_STALE', sessionId: 'stale' })
  t.match(await hub.waitEvent((e) => e.type === 'session.stopped' && e.sessionId === 'stale', 'stopped'), { reason: 'fault', energyWh: 30 })
})

/** A rig whose session ended in a meter read fault: the station is faulted. */
async function faultedRig(t: Test): Promise<Rig> {
  const r = await rig(t)
  await r.hub.command({ op: 'start', sessionId: 'to-fault' })
  r.meter.failNextRead('HW_TIMEOUT')
  r.clock.advance(10_000)
  await r.agent.tick()
  await r.hub.waitState((s) => s.status === 'faulted', 'faulted')
  return r
}

t.test('a faulted station clears on enable once the cause is gone, without a restart', async (t) => {
  const { hub } = await faultedRig(t)
  t.match(await hub.command({ op: 'enable' }), { ok: true, meterWh: 61 }, 'the meter reads again: cleared, with the reading')
  await hub.waitState((s) => s.status === 'available', 'available again, same agent process')
  t.match(await hub.command({ op: 'start', sessionId: 'fc2' }), { ok: true })
})

t.test('enable while the meter still fails answers METER_FAULT and the station stays faulted', async (t) => {
  const { hub, agent, meter } = await faultedRig(t)
  const faults = hub.deliveries.filter((e) => e.type === 'fault').length
  meter.failNextRead('HW_TIMEOUT')
  t.match(await hub.command({ op: 'enable' }), { ok: false, error: { code: 'METER_FAULT', message: /still fails/ } })
  t.equal(agent.charger.status, 'faulted', 'still faulted')
  t.match(await hub.command({ op: 'start', sessionId: 'mf2' }), { ok: false, error: { code: 'STATION_FAULTED' } })
  t.equal(hub.deliveries.filter((e) => e.type === 'fault').length, faults, 'no second fault event: it was reported once')
  t.match(await hub.command({ op: 'enable' }), { ok: true }, 'the meter reads again: cleared')
})

t.test('enable while the relay still fails answers RELAY_FAULT and the station stays faulted', async (t) => {
  const { hub, agent } = await rig(t)
  const io = agent.hardware.mock?.io
  if (!io) throw new Error('expected the mock board')
  io.failNextWrite()
  t.match(await hub.command({ op: 'start', sessionId: 'rf1' }), { ok: false, error: { code: 'RELAY_FAULT' } })
  await hub.waitState((s) => s.status === 'faulted', 'faulted')
  io.failNextWrite()
  t.match(await hub.command({ op: 'enable' }), { ok: false, error: { code: 'RELAY_FAULT', message: /still fails/ } })
  t.equal(agent.charger.status, 'faulted')
  t.match(await hub.command({ op: 'enable' }), { ok: true }, 'the relay answers again: cleared')
  t.equal(agent.charger.status, 'available')
})

t.test('a faulted station that is disabled keeps its fault: enable checks it all the same', async (t) => {
  const { hub, agent, meter } = await faultedRig(t)
  t.match(await hub.command({ op: 'disable' }), { ok: true })
  await hub.waitState((s) => s.status === 'disabled', 'disabled')
  meter.failNextRead('HW_TIMEOUT')
  t.match(await hub.command({ op: 'enable' }), { ok: false, error: { code: 'METER_FAULT' } }, 'not cleared by disable + enable')
  t.equal(agent.charger.status, 'disabled', 'a failed enable changes nothing')
  t.ok(agent.outbox.disabled, 'still disabled across a restart')
  t.match(await hub.command({ op: 'enable' }), { ok: true })
  await hub.waitState((s) => s.status === 'available', 'available')
})

t.test('disable makes the agent refuse start with STATION_DISABLED and report disabled in its retained state, also after a restart', async (t) => {
  const { broker, hub, agent, dataDir } = await rig(t)
  t.match(await hub.command({ op: 'disable' }), { ok: true })
  await hub.waitState((s) => s.status === 'disabled', 'disabled')
  t.match(await hub.command({ op: 'start', sessionId: 'd1' }), { ok: false, error: { code: 'STATION_DISABLED' } })
  await agent.stop()
  const again = await startAgent(stationConfig({ url: broker.url, dataDir }))
  t.teardown(() => again.stop())
  await hub.waitState((s) => s.online && s.status === 'disabled', 'disabled after the restart')
  t.match(await hub.command({ op: 'start', sessionId: 'd1' }), { ok: false, error: { code: 'STATION_DISABLED' } })
  t.notOk(again.hardware.relay.isClosed)
})
