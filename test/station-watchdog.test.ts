/**
 * The external hardware watchdog, proven outside the agent's process: the
 * agent runs as a child process on a Firmata board and an SDM meter that are
 * simulated in this process over real pseudo-terminals; the watchdog chip in
 * series with the relay coil is simulated here too, so freezing the agent
 * (kill -STOP: a hang, not a crash) cannot freeze the chip.
 */
import t from 'tap'
import { StationConfigSchema } from '../station/config.js'
import { hasSocat } from './helpers/hw-pty.js'
import { StationSim } from './helpers/hw-station-sim.js'
import { RestartableBroker, spawnAgent, tempDir, waitUntil, writeStationConfig } from './helpers/station-agent.js'
import { HubDouble } from './helpers/station-hub.js'

const PERIOD_MS = 1000

if (!hasSocat()) {
  t.comment('socat is not installed (apt-get install socat): skipping the hardware watchdog process test')
  t.pass('skipped: no socat')
} else {
  t.test('kill -STOP of the agent mid-session opens the relay within the watchdog period (the chip on the heartbeat pin cuts the coil)', async (t) => {
    const sim = await StationSim.start({ relayPin: 7, heartbeatPin: 8, watchdogPeriodMs: PERIOD_MS, meterModel: 'SDM120', meterUnitId: 1, carPowerW: 7000 })
    t.teardown(() => sim.close())
    const broker = new RestartableBroker()
    await broker.start()
    t.teardown(() => broker.stop())
    const dataDir = tempDir()
    const config = StationConfigSchema.parse({
      stationId: 'S1',
      hubId: 'H',
      mqtt: { url: broker.url, password: 'pw' },
      dataDir,
      hardware: {
        board: { type: 'firmata', path: sim.boardPath },
        relay: { pin: 7, type: 'NO' },
        meter: { type: 'modbus-rtu', path: sim.meterPath, model: 'SDM120', unitId: 1 },
        watchdog: { pin: 8, periodMs: PERIOD_MS },
      },
      telemetryIntervalMs: 200,
    })
    const hub = await HubDouble.connect(broker.url, 'S1')
    t.teardown(() => hub.close())
    const agent = spawnAgent(writeStationConfig(dataDir, config))
    t.teardown(() => {
      if (agent.child.exitCode === null && agent.child.signalCode === null) {
        agent.child.kill('SIGCONT')
        agent.child.kill('SIGKILL')
      }
    })
    await hub.waitState((s) => s.online, 'agent online', 20_000).catch((err: unknown) => {
      t.comment(agent.output())
      throw err
    })
    await hub.command({ op: 'start', sessionId: 'stop-1' })
    await waitUntil(() => sim.contactsClosed, 5000, 'contacts closed')
    // Healthy: the chip keeps the coil powered for several of its periods.
    const fedFrom = Date.now()
    await waitUntil(() => hub.telemetry.some((x) => x.meterWh >= 100_002) && Date.now() - fedFrom > 2.5 * PERIOD_MS, 10_000, 'energy flowing for 2.5 periods')
    t.equal(sim.chip.trips, 0, 'a healthy agent never lets the watchdog trip')
    t.ok(sim.contactsClosed, 'contacts still closed')

    const pid = agent.child.pid ?? 0
    process.kill(pid, 'SIGSTOP')
    const stoppedAt = Date.now()
    await new Promise((resolve) => sim.chip.once('trip', resolve))
    // The chip's own timer decides when it trips (its last edge + its period); what the agent decides is only
    // whether edges keep coming. So: no edge after the freeze, and the trip is the chip's period after the last one.
    // (Wall-clock bounds on the trip itself would measure this machine's load, not the agent.)
    t.ok(sim.chip.lastEdgeAt < stoppedAt + PERIOD_MS / 2, 'no heartbeat reached the chip after the agent froze')
    t.ok(sim.chip.trippedAt - sim.chip.lastEdgeAt >= PERIOD_MS - 5, 'the chip cut the coil one period after the last heartbeat')
    t.comment(`relay opened ${sim.chip.trippedAt - stoppedAt} ms after the agent froze (period ${PERIOD_MS} ms)`)
    t.notOk(sim.contactsClosed, 'contacts open')
    t.ok(sim.relayDriven, 'the frozen agent still drives the relay pin: the watchdog, not the agent, opened the contacts')
    process.kill(pid, 'SIGCONT')
  })
}
