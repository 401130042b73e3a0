/**
 * The vehicle CLI waits for the hub's own answer: for ops that wait on a
 * station it waits past the hub's station deadline, so the user reads the
 * hub's code (TIMEOUT naming the station, METER_FAULT) with its hint, and a
 * TIMEOUT of its own tells "the hub did not answer at all" from "you cut the
 * wait short".
 */
import t, { type Test } from 'tap'
import { Command } from 'commander'
import { VoltwayError } from '../protocol/index.js'
import { DEFAULT_COMMAND_TIMEOUT_MS } from '../hub/charging/service.js'
import { connectVehicle } from '../vehicle-sim/connect.js'
import { errorReport } from '../vehicle-sim/output.js'
import { DEFAULT_TIMEOUT_MS, defaultTimeoutMs } from '../vehicle-sim/settings.js'
import { registerVehicleCommands } from '../vehicle-sim/commands/register.js'
import { FakeStation, type CommandScript } from './helpers/fake-station.js'
import { hubConfig, startTestHub } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'

/** A hub whose station deadline is `hubMs`, one fake station, and a CLI connection whose per-op defaults keep the real ratio. */
async function setup(t: Test, answer: CommandScript, hubMs: number, over: { hubId?: string; requestTimeoutMs?: number; retries?: number } = {}) {
  const cfg = hubConfig()
  const hub = await startTestHub(cfg, { commandTimeoutMs: hubMs })
  t.teardown(() => hub.close())
  const s1 = cfg.stations[0]
  if (!s1) throw new Error('a station expected')
  const station = await FakeStation.connect(hub.mqttUrl, s1.stationId, s1.password, answer)
  t.teardown(() => station.close())
  await station.state({ meterWh: 1000 })
  await waitUntil(() => hub.context.stations.get(s1.stationId)?.live.online, 5000, 'the station online')
  const scale = hubMs / DEFAULT_COMMAND_TIMEOUT_MS
  const conn = await connectVehicle({
    url: hub.mqttUrl,
    hubId: over.hubId ?? 'feira',
    vehicleId: 'V1',
    password: 'v1-pass',
    mqttVersion: 4,
    connectTimeoutMs: 5000,
    timeoutFor: (op) => defaultTimeoutMs(op) * scale,
    ...(over.requestTimeoutMs !== undefined ? { requestTimeoutMs: over.requestTimeoutMs } : {}),
    ...(over.retries !== undefined ? { retries: over.retries } : {}),
  })
  t.teardown(() => conn.close())
  return { conn, stationId: s1.stationId }
}

async function failure(p: Promise<unknown>): Promise<VoltwayError> {
  try {
    await p
  } catch (err) {
    if (err instanceof VoltwayError) return err
    throw err
  }
  throw new Error('the request succeeded')
}

t.test('the CLI waits longer than the hub for ops that wait on a station, and the usual 10 s for the others', async (t) => {
  for (const op of ['charge.start', 'charge.stop']) {
    // start: the station's answer, then the rest of the same deadline for its first reading, then the hub's reply.
    t.ok(defaultTimeoutMs(op) >= 2 * DEFAULT_COMMAND_TIMEOUT_MS, `${op} waits well past the hub's ${DEFAULT_COMMAND_TIMEOUT_MS} ms station deadline`)
  }
  for (const op of ['hub.info', 'charge.status', 'reservation.create']) t.equal(defaultTimeoutMs(op), DEFAULT_TIMEOUT_MS, op)
  const program = new Command()
  registerVehicleCommands(program)
  const charge = program.commands.find((c) => c.name() === 'vehicle')?.commands.find((c) => c.name() === 'charge')
  t.match((charge?.helpInformation() ?? '').replace(/\s+/g, ' '), /--timeout-ms <ms> give up waiting [^(]*\(default: 10000; 25000 for charge start\/stop/, '--help documents both defaults')
})

t.test('a station that never answers start reaches the user as the hub\'s TIMEOUT naming the station', async (t) => {
  const { conn, stationId } = await setup(t, () => null, 300)
  const err = await failure(conn.rpc.request('charge.start', { stationId }))
  t.equal(err.code, 'TIMEOUT')
  t.equal(err.details?.stationId, stationId, 'the hub\'s answer, not the CLI giving up')
  const report = errorReport(err)
  t.match(report.hint, /did not answer its hub/)
  t.notMatch(report.hint, /--hub-id/)
})

t.test('a station that starts without a meter reading reaches the user as METER_FAULT with the missing-start hint', async (t) => {
  const { conn, stationId } = await setup(t, (cmd) => (cmd.op === 'start' ? { ok: true } : { ok: true, meterWh: 1000 }), 300)
  const err = await failure(conn.rpc.request('charge.start', { stationId }))
  t.equal(err.code, 'METER_FAULT')
  t.equal(err.details?.reason, 'METER_MISSING_START')
  t.match(errorReport(err).hint, /reported no meter reading when the session started/)
})

t.test('a TIMEOUT after the full default wait says the hub did not answer at all; after a shorter --timeout-ms, that the wait was cut short', async (t) => {
  const silent = await setup(t, () => null, 300, { hubId: 'nohub' })
  const none = await failure(silent.conn.rpc.request('hub.info', {}))
  t.equal(none.code, 'TIMEOUT')
  t.match(errorReport(none).hint, /hub nohub did not answer at all .* --hub-id is the hub's hubId/)

  const short = await setup(t, () => null, 300, { requestTimeoutMs: 100 })
  const cut = await failure(short.conn.rpc.request('charge.start', { stationId: short.stationId }))
  t.equal(cut.code, 'TIMEOUT')
  t.equal(cut.details?.defaultTimeoutMs, 750)
  t.match(errorReport(cut).hint, /charge\.start can take longer than --timeout-ms 100 \(its default is 750 ms/)
  t.notMatch(errorReport(cut).hint, /--hub-id/)
})

t.test('a wrong --hub-id sent 3 times: the message and the hint say the wait per copy and in all, and name a wrong --hub-id', async (t) => {
  const { conn } = await setup(t, () => null, 300, { hubId: 'salvadr', retries: 2 })
  const started = Date.now()
  const err = await failure(conn.rpc.request('station.list', {}))
  t.ok(Date.now() - started >= 850, 'waited for every copy')
  t.equal(err.code, 'TIMEOUT')
  t.match(err.message, /^no answer to station\.list from hub salvadr within 300 ms per copy, sent 3 times \(900 ms in all\) with request id \S+$/)
  t.match(errorReport(err).hint, /^hub salvadr did not answer at all within 900 ms in all \(3 copies, 300 ms each\): a wrong --hub-id \(a hub that does not exist on this broker\) gives exactly this/)
})
