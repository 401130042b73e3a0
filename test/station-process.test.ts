/**
 * The agent as a real process (`node --import tsx cli.ts station --config`):
 * SIGTERM is a clean, fail-safe stop; kill -9 leaves it to the board's
 * watchdog (simulated by the mock board) and to the next agent's recovery.
 */
import t, { type Test } from 'tap'
import { readMockBoardState } from '../hw/mock-watchdog.js'
import { RestartableBroker, spawnAgent, stationConfig, tempDir, waitUntil, writeStationConfig, type AgentProcess } from './helpers/station-agent.js'
import { HubDouble } from './helpers/station-hub.js'

const START_TIMEOUT = 20_000

async function setup(t: Test) {
  const broker = new RestartableBroker()
  await broker.start()
  const dataDir = tempDir()
  const configFile = writeStationConfig(dataDir, stationConfig({ url: broker.url, dataDir, powerKw: 360, telemetryIntervalMs: 100, watchdogMs: 500 }))
  const hub = await HubDouble.connect(broker.url, 'S1')
  const procs: AgentProcess[] = []
  const spawn = (): AgentProcess => {
    const p = spawnAgent(configFile)
    procs.push(p)
    return p
  }
  t.teardown(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
    await hub.close()
    await broker.stop()
  })
  return { broker, dataDir, hub, spawn }
}

t.test('SIGTERM opens the relay, ends the session (reason shutdown), publishes online:false and exits 0', async (t) => {
  const { dataDir, hub, spawn } = await setup(t)
  const agent = spawn()
  await hub.waitState((s) => s.online, 'agent online', START_TIMEOUT)
  const started = await hub.command({ op: 'start', sessionId: 'term-1' })
  t.equal(readMockBoardState(dataDir)?.relay, 'closed', 'relay closed on the board')
  await waitUntil(() => hub.telemetry.some((x) => x.meterWh >= 10), 10_000, 'energy flowing')
  agent.child.kill('SIGTERM')
  const exit = await agent.exited
  t.same(exit, { code: 0, signal: null }, 'clean exit')
  const board = readMockBoardState(dataDir)
  t.equal(board?.relay, 'open', 'relay open')
  t.equal(board?.watchdogTripped, false, 'opened by the agent itself, not by the watchdog')
  await hub.waitState((s) => !s.online, 'online:false')
  const stop = await hub.waitEvent((e) => e.type === 'session.stopped', 'session.stopped')
  t.equal(stop.type === 'session.stopped' && stop.reason, 'shutdown')
  t.equal(stop.type === 'session.stopped' && stop.energyWh, stop.meterWh - (started.meterWh ?? 0), 'energyWh = stop reading - start reading')
  t.ok(stop.type === 'session.stopped' && stop.energyWh >= 10)
})

t.test('kill -9 mid-session: the board watchdog leaves the relay open, and the restarted agent reports the session end exactly once with the right energy', async (t) => {
  const { dataDir, hub, spawn } = await setup(t)
  const first = spawn()
  await hub.waitState((s) => s.online, 'agent online', START_TIMEOUT)
  const started = await hub.command({ op: 'start', sessionId: 'k9' })
  await waitUntil(() => hub.telemetry.some((x) => x.meterWh >= 10), 10_000, 'energy flowing')
  first.child.kill('SIGKILL')
  t.equal((await first.exited).signal, 'SIGKILL')
  await hub.waitState((s) => !s.online, 'Last Will after kill -9')

  const left = readMockBoardState(dataDir)
  if (!left) throw new Error('no mock board state')
  const tripAt = left.file.heartbeatTs + left.file.watchdogMs
  t.equal(readMockBoardState(dataDir, left.file.heartbeatTs)?.relay, 'closed', 'the contacts were closed when the agent died')
  await waitUntil(() => Date.now() > tripAt, 5000, 'the watchdog limit to pass')
  const after = readMockBoardState(dataDir)
  t.equal(after?.relay, 'open', 'relay open: the watchdog tripped')
  t.equal(after?.watchdogTripped, true)
  const registerAtTrip = after?.energyWh ?? -1

  const second = spawn()
  const stop = await hub.waitEvent((e) => e.type === 'session.stopped' && e.sessionId === 'k9', 'the session end from the restarted agent', START_TIMEOUT)
  t.match(stop, { reason: 'shutdown', meterStartWh: started.meterWh, meterWh: registerAtTrip })
  t.equal(stop.type === 'session.stopped' && stop.energyWh, registerAtTrip - (started.meterWh ?? 0), 'energy up to when the watchdog opened the relay')
  t.ok(stop.meterWh >= Math.max(...hub.telemetry.map((x) => x.meterWh)), 'nothing that was metered is lost')
  await hub.waitState((s) => s.online && s.status === 'available', 'restarted agent online')
  t.match(await hub.command({ op: 'enable' }), { ok: true })
  second.child.kill('SIGTERM')
  t.equal((await second.exited).code, 0)

  spawn()
  await hub.waitState((s) => s.online, 'third agent online', START_TIMEOUT)
  t.match(await hub.command({ op: 'enable' }), { ok: true })
  const ends = hub.events.filter((e) => e.type === 'session.stopped' && e.sessionId === 'k9')
  t.equal(ends.length, 1, 'one session.stopped for k9 (by seq)')
  t.ok(hub.deliveries.filter((e) => e.type === 'session.stopped').every((e) => e.seq === stop.seq), 'any re-delivery carries the same seq')
  t.same(hub.invalid, [])
})
