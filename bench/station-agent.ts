/**
 * Station agent start-up and memory, with the health loop toggling the
 * hardware watchdog's heartbeat pin (hardware.watchdog, 2 s period) and the
 * card reader (hardware.cardReader: mock, or an RDM6300 on a pty) running.
 *
 *   node --import tsx bench/station-agent.ts [--runs 5] [--charge-ms 2000]
 *
 * Each run starts an aedes broker in this process, spawns the agent as a real
 * process, and measures the time from spawn to the retained `state` with
 * `online: true` seen by a subscriber; then it runs a session (telemetry every
 * 100 ms) for --charge-ms and reads the agent's peak RSS (VmHWM) before
 * SIGTERM. Entry points: the CLI compiled to JavaScript as it is installed
 * (`tsc -p tsconfig.build.json` into node_modules/.cache, so dist/ is left
 * alone); the compiled station entry alone (without the hub's and the
 * simulator's modules that cli.ts loads eagerly); and the CLI from source
 * through tsx (as the tests run it; tsx costs time and memory of its own);
 * and, where socat exists, the compiled CLI on real drivers: a Firmata board
 * and an SDM120 simulated over pseudo-terminals (serialport's native binding,
 * firmata-io, modbus-serial), the board's handshake included in the time.
 * Goals (compiled): online < 1.5 s, peak RSS < 80 MB.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import Table from 'cli-table3'
import { connectAsync } from 'mqtt'
import { parseJsonObject, StationState, topics } from '../protocol/index.js'
import { startAedes } from '../test/helpers/aedes.js'
import { hasSocat, ptyPair } from '../test/helpers/hw-pty.js'
import { StationSim } from '../test/helpers/hw-station-sim.js'
import { AGENT_NODE_FLAGS } from '../station/node-flags.js'
import { report, type BenchRow } from './report.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN
  return Number.isFinite(v) && v > 0 ? v : dflt
}

const RUNS = arg('runs', 5)
/** Node flags for the compiled agent: by default those of the systemd unit (station/node-flags.ts); `--node-flags=` (empty) for none. */
const flagArg = process.argv.find((a) => a.startsWith('--node-flags='))
const NODE_FLAGS = flagArg === undefined ? [...AGENT_NODE_FLAGS] : flagArg.slice('--node-flags='.length).split(' ').filter(Boolean)
const CHARGE_MS = arg('charge-ms', 2000)

type Entry = 'compiled' | 'compiled station only' | 'tsx' | 'compiled, Firmata + SDM120 on ptys'
const WATCHDOG = { pin: 8, periodMs: 2000 }
const BUILD = join(ROOT, 'node_modules/.cache/voltway-bench')

interface RunResult {
  onlineMs: number
  peakRssMb: number | null
  telemetry: number
}

function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

async function once(entry: Entry): Promise<RunResult> {
  const broker = await startAedes()
  const dir = mkdtempSync(join(tmpdir(), 'voltway-bench-station-'))
  const config = join(dir, 'station.json')
  const sim = entry === 'compiled, Firmata + SDM120 on ptys' ? await StationSim.start({ relayPin: 7, heartbeatPin: WATCHDOG.pin, watchdogPeriodMs: WATCHDOG.periodMs, meterModel: 'SDM120', meterUnitId: 1, carPowerW: 7000 }) : undefined
  // The card reader loop runs too: an RDM6300 on its own pty beside the real drivers, the mock reader on the mock board.
  const cardPty = sim ? await ptyPair() : undefined
  const hardware = sim && cardPty
    ? { board: { type: 'firmata', path: sim.boardPath }, relay: { pin: 7, type: 'NO' }, meter: { type: 'modbus-rtu', path: sim.meterPath, model: 'SDM120' }, watchdog: WATCHDOG, cardReader: { type: 'rdm6300', path: cardPty.host } }
    : { board: { type: 'mock' }, relay: { pin: 7, type: 'NO' }, meter: { type: 'mock', powerKw: 22 }, watchdog: WATCHDOG, cardReader: { type: 'mock' } }
  writeFileSync(
    config,
    JSON.stringify({
      stationId: 'B1',
      hubId: 'H',
      mqtt: { url: broker.url, password: 'pw' },
      dataDir: join(dir, 'data'),
      hardware,
      telemetryIntervalMs: 100,
      offline: { maxChargeMinutes: 30 },
    }),
  )
  const hub = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'bench-hub', reconnectPeriod: 0 })
  let onlineAt = 0
  let telemetry = 0
  let resolveOnline: () => void = () => {}
  const online = new Promise<void>((r) => (resolveOnline = r))
  hub.on('message', (topic, payload) => {
    if (topic.endsWith('/telemetry')) telemetry++
    if (!topic.endsWith('/state')) return
    const json = parseJsonObject(payload)
    const state = json.ok ? StationState.safeParse(json.value) : undefined
    if (state?.success && state.data.online && !onlineAt) {
      onlineAt = performance.now()
      resolveOnline()
    }
  })
  await hub.subscribeAsync([topics.station('B1', 'state'), topics.station('B1', 'telemetry')], { qos: 1 })
  const runJs = JSON.stringify(join(BUILD, 'station/commands/run.js'))
  const args =
    entry === 'compiled' || entry === 'compiled, Firmata + SDM120 on ptys'
      ? [...NODE_FLAGS, join(BUILD, 'cli.js'), 'station', '--config', config]
      : entry === 'compiled station only'
        ? [...NODE_FLAGS, '-e', `import(${runJs}).then((m) => m.runStation(${JSON.stringify(config)}))`]
        : ['--import', 'tsx', join(ROOT, 'cli.ts'), 'station', '--config', config]
  const started = performance.now()
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'ignore', env: { ...process.env, VOLTWAY_LOG_LEVEL: 'warn' } })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000)
  try {
    await Promise.race([online, exited.then(() => Promise.reject(new Error('agent exited before online')))])
    await hub.publishAsync(topics.station('B1', 'cmd'), JSON.stringify({ id: 'bench-start', op: 'start', sessionId: 'bench' }), { qos: 1 })
    await new Promise((r) => setTimeout(r, CHARGE_MS))
    const rss = child.pid ? peakRssMb(child.pid) : null
    child.kill('SIGTERM')
    await exited
    return { onlineMs: onlineAt - started, peakRssMb: rss, telemetry }
  } finally {
    clearTimeout(timeout)
    if (child.exitCode === null) child.kill('SIGKILL')
    await hub.endAsync(true)
    await broker.close()
    await sim?.close()
    await cardPty?.close()
  }
}

function stats(xs: number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b)
  return { min: s[0] ?? NaN, median: s[Math.floor(s.length / 2)] ?? NaN, max: s.at(-1) ?? NaN }
}

const table = new Table({ head: ['entry', 'runs', 'online ms (min / median / max)', 'peak RSS MB (min / median / max)', 'telemetry msgs / run', 'goal met'] })
// Type errors elsewhere in the tree must not stop the measurement: tsc emits anyway.
spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', BUILD], { cwd: ROOT, stdio: 'ignore' })
const jsonRows: BenchRow[] = []
const ptys: Entry[] = hasSocat() ? ['compiled, Firmata + SDM120 on ptys'] : []
const entries: Entry[] = process.argv.includes('--json') ? ['compiled', ...ptys] : ['compiled', 'compiled station only', 'tsx', ...ptys]
for (const entry of entries) {
  const results: RunResult[] = []
  for (let i = 0; i < RUNS; i++) results.push(await once(entry))
  const on = stats(results.map((r) => r.onlineMs))
  const rssValues = results.map((r) => r.peakRssMb).filter((x): x is number => x !== null)
  const rss = stats(rssValues)
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a')
  const goal = entry === 'tsx' ? '(tsx: n/a)' : on.median < 1500 && (rssValues.length === 0 || rss.max < 80) ? 'yes' : 'no'
  if (entry !== 'tsx') {
    jsonRows.push({ bench: 'station-agent', metric: `${entry}: start to online, median`, value: Math.round(on.median), unit: 'ms', goal: '< 1500', ok: on.median < 1500 })
    if (rssValues.length) jsonRows.push({ bench: 'station-agent', metric: `${entry}: peak RSS, max`, value: Number(rss.max.toFixed(1)), unit: 'MB', goal: '< 80', ok: rss.max < 80 })
  }
  table.push([
    entry,
    RUNS,
    `${fmt(on.min)} / ${fmt(on.median)} / ${fmt(on.max)}`,
    rssValues.length ? `${rss.min.toFixed(1)} / ${rss.median.toFixed(1)} / ${rss.max.toFixed(1)}` : 'n/a (no /proc)',
    fmt(stats(results.map((r) => r.telemetry)).median),
    goal,
  ])
}
if (process.argv.includes('--json')) {
  report(jsonRows)
  process.exit(0)
}
console.log(
  `station agent with the watchdog heartbeat loop (pin ${WATCHDOG.pin}, ${WATCHDOG.periodMs} ms), node ${process.version}, ${RUNS} runs per entry, ${CHARGE_MS} ms charging per run` +
    (NODE_FLAGS.length ? `, compiled agent flags: ${NODE_FLAGS.join(' ')}` : ''),
)
console.log(table.toString())
