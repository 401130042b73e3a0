/**
 * 5,000 simulated vehicles, each with its own MQTT connection, against one hub.
 *
 *   node --import tsx bench/vehicle-fleet.ts [vehicles=5000] [seconds=30] [--real-hub]
 *
 * Default: the fake hub of test/helpers on an in-process aedes broker (broker,
 * hub and simulator share this process, so RSS covers all three).
 *
 * `--real-hub`: the real hub as its own process (`voltway hub --config`, from
 * source through tsx) with every vehicle and 100 stations in its hub.json, a
 * second small hub as the trips' destination (10 stations; vehicles charge
 * there through their home hub, which alone knows them), and the station agents on mock boards
 * in a third process. This process is only the simulator, so its peak RSS is
 * the simulator's own; the others' peaks are their VmHWM.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HubConfigSchema, type HubConfig } from '../hub/config.js'
import type { Position } from '../protocol/index.js'
import { StationConfigSchema } from '../station/config.js'
import { runFleet } from '../vehicle-sim/fleet/engine.js'
import { parseScenario, type ScenarioInput } from '../vehicle-sim/fleet/scenario.js'
import { startFakeHub } from '../test/helpers/vehicle-fake-hub.js'
import { spawnHub, type HubProcess } from '../test/helpers/hub-process.js'
import { freePort } from '../test/helpers/net.js'
import { BENCH_RULES } from './bench-hub.js'
import { report, type BenchRow } from './report.js'

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const vehicles = Number(positional[0] ?? 5000)
const seconds = Number(positional[1] ?? 30)
const realHub = process.argv.includes('--real-hub')
const ROOT = join(import.meta.dirname, '..')

const FEIRA: Position = { lat: -12.2664, lon: -38.9663 }
const SALVADOR: Position = { lat: -12.9714, lon: -38.5014 }

const stationsAround = (c: Position, n: number, prefix = 'S') =>
  Array.from({ length: n }, (_, i) => ({
    stationId: `${prefix}${i + 1}`,
    position: { lat: c.lat + ((i % 20) - 10) * 0.01, lon: c.lon + (Math.floor(i / 20) - 5) * 0.01 },
    powerKw: 50,
    priceMinorPerKwh: 73,
    status: 'available' as const,
    online: true,
  }))

const scenarioFor = (hubs: ScenarioInput['hubs']): ScenarioInput => ({
  name: `bench ${vehicles} vehicles${realHub ? ' (real hub)' : ''}`,
  hubs,
  battery: { capacityKwh: 50, soc: { min: 0.25, max: 0.6 }, consumptionKwhPer100Km: 18 },
  policy: { booking: 'mixed', tripShare: 0.3, lowSoc: 0.2, targetSoc: 0.8 },
  charging: { statusIntervalMs: 2000, maxRealSeconds: 5 },
  clock: { compression: 600, tickMs: 200 },
  stop: { realSeconds: seconds, whenAllDone: true },
  connect: { concurrency: 200, timeoutMs: 30_000 },
  requestTimeoutMs: 30_000,
})

/** Peak resident set (VmHWM) of a process, in bytes; Linux only. */
function peakRssOf(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}

interface Setup {
  hubs: ScenarioInput['hubs']
  /** Peak RSS of the other processes, read before they stop. */
  others(): Array<[string, number | null]>
  close(): Promise<void>
}

async function fakeHub(): Promise<Setup> {
  const hub = await startFakeHub({
    vehiclePattern: { prefix: 'B', password: 'bench' },
    stations: stationsAround(FEIRA, 200),
    peers: [
      { hubId: 'salvador', name: 'Salvador', city: 'Salvador', position: SALVADOR },
      { hubId: 'aracaju', name: 'Aracaju', city: 'Aracaju', position: { lat: -10.9472, lon: -37.0731 } },
    ],
    energySpeedup: 100,
    ...BENCH_RULES,
  })
  return {
    hubs: [{ hubId: 'feira', url: hub.url, vehicles: { prefix: 'B', count: vehicles, password: 'bench' } }],
    others: () => [],
    close: () => hub.close(),
  }
}

async function realHubs(): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-bench-fleet-'))
  const password = 'bench-{id}'
  const creds = Array.from({ length: vehicles }, (_, i) => ({ vehicleId: `B${i + 1}`, password: `bench-B${i + 1}` }))
  const port = { feira: { mqtt: await freePort(), http: await freePort() }, salvador: { mqtt: await freePort(), http: await freePort() } }
  const hubConfig = (hubId: 'feira' | 'salvador', position: Position, stations: number, prefix: string): HubConfig =>
    HubConfigSchema.parse({
      hubId,
      name: hubId,
      city: hubId,
      position,
      currency: 'BRL',
      dataDir: join(dir, 'data', hubId),
      mqtt: { listen: { host: '127.0.0.1', port: port[hubId].mqtt } },
      http: { host: '127.0.0.1', port: port[hubId].http },
      stations: stationsAround(position, stations, prefix).map((s) => ({ stationId: s.stationId, position: s.position, powerKw: s.powerKw, priceMinorPerKwh: s.priceMinorPerKwh, password: `${s.stationId}-pw` })),
      rules: BENCH_RULES,
      // Only the home hub knows its drivers: they charge at salvador through feira (roaming).
      vehicles: hubId === 'feira' ? creds : [],
      federation: {
        peers: [
          hubId === 'feira'
            ? { hubId: 'salvador', url: `http://127.0.0.1:${port.salvador.http}`, token: 'feira-to-salvador', acceptToken: 'salvador-to-feira' }
            : { hubId: 'feira', url: `http://127.0.0.1:${port.feira.http}`, token: 'salvador-to-feira', acceptToken: 'feira-to-salvador' },
        ],
        links: [{ from: 'feira', to: 'salvador', distanceKm: 108 }],
      },
    })
  const configs = [hubConfig('feira', FEIRA, 100, 'FSA-'), hubConfig('salvador', SALVADOR, 10, 'SSA-')]
  const hubs: HubProcess[] = []
  for (const c of configs) hubs.push(await spawnHub(c, dir, 60_000))
  const stationFile = join(dir, 'stations.json')
  writeFileSync(
    stationFile,
    JSON.stringify(
      configs.flatMap((h, i) =>
        h.stations.map((s) =>
          StationConfigSchema.parse({
            stationId: s.stationId,
            hubId: h.hubId,
            mqtt: { url: hubs[i]?.mqttUrl, password: s.password },
            dataDir: join(dir, 'data', s.stationId),
            hardware: { board: { type: 'mock' }, relay: { pin: 7, type: 'NO' }, meter: { type: 'mock', powerKw: s.powerKw } },
            telemetryIntervalMs: 2000,
          }),
        ),
      ),
    ),
  )
  const agents = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'vehicle-fleet-stations.ts'), stationFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    let buf = ''
    agents.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      if (buf.includes('"msg":"ready"')) resolve()
    })
    agents.once('exit', (code) => reject(new Error(`station agents exited with ${code}`)))
  })
  return {
    hubs: [
      { hubId: 'feira', url: hubs[0]?.mqttUrl as string, vehicles: { prefix: 'B', count: vehicles, password } },
    ],
    others: () => [
      ['hub feira (5,000 vehicles, 100 stations)', peakRssOf(hubs[0]?.proc.pid)],
      ['hub salvador (destination, 10 stations)', peakRssOf(hubs[1]?.proc.pid)],
      ['110 station agents (one process)', peakRssOf(agents.pid)],
    ],
    async close() {
      const gone = new Promise((r) => agents.once('exit', r))
      agents.kill('SIGTERM')
      await gone
      for (const h of hubs) await h.kill('SIGTERM')
    },
  }
}

const setup = realHub ? await realHubs() : await fakeHub()
const scenario = parseScenario(scenarioFor(setup.hubs))

let peakRss = process.memoryUsage().rss
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100)
const baseRss = peakRss
let connectedAt = 0
const started = Date.now()
const { summary } = await runFleet(scenario, {
  seed: 1,
  progressEveryMs: 1000,
  onProgress: (s) => {
    if (!connectedAt && s.counters.connected + Object.values(s.counters.connectFailed).reduce((a, b) => a + b, 0) >= vehicles) connectedAt = Date.now()
    process.stderr.write(`t=${(s.realMs / 1000).toFixed(0)}s connected=${s.counters.connected} driving=${s.phases.driving} charging=${s.phases.charging} req=${s.requests}\n`)
  },
})
clearInterval(sampler)
peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024)
const others = setup.others()
await setup.close()

const mb = (b: number | null): string => (b === null ? 'n/a' : `${(b / 1024 / 1024).toFixed(0)} MB`)
const ch = summary.charging
const rows: [string, string][] = [
  ['hub', realHub ? 'real hub processes (tsx), agents on mock boards' : 'fake hub in this process'],
  ['vehicles (connections)', `${summary.vehicles.connected} / ${summary.vehicles.total}${Object.keys(summary.vehicles.connectFailed).length ? ` failed ${JSON.stringify(summary.vehicles.connectFailed)}` : ''}`],
  ['all connected after', connectedAt ? `${((connectedAt - started) / 1000).toFixed(1)} s` : 'n/a'],
  ['run', `${summary.realSeconds} s real, ${summary.simMinutes} min simulated, stopped: ${summary.stoppedBy}`],
  ['requests', `${summary.requests.total} (${summary.requests.perSecond}/s)`],
  ['request errors', JSON.stringify(summary.requests.errors)],
  ['latency (all ops)', `p50 ${summary.requests.latency.p50Ms} ms, p99 ${summary.requests.latency.p99Ms} ms, max ${summary.requests.latency.maxMs} ms`],
  ['trips / reservations / sessions', `${summary.trips.booked} / ${summary.reservations.booked} / ${ch.sessions}`],
  ['trip failures', JSON.stringify(summary.trips.failedHopReasons)],
  ['charging at the other hub', `${ch.roaming.sessions} sessions through the home hub (roaming), ${ch.roaming.energyWh} Wh`],
  ['energy metered', `${ch.energyWh} Wh`],
  [realHub ? 'simulator RSS before / peak' : 'RSS before / peak (sim + broker + hub)', `${mb(baseRss)} / ${mb(peakRss)}`],
  ['peak RSS per vehicle', `${((peakRss - baseRss) / summary.vehicles.total / 1024).toFixed(1)} KB`],
  ...others.map(([k, v]): [string, string] => [`peak RSS ${k}`, mb(v)]),
]
if (process.argv.includes('--json')) {
  const name = `vehicle-fleet${realHub ? ' (real hub)' : ' (fake hub)'}`
  report([
    { bench: name, metric: `vehicles connected of ${summary.vehicles.total}`, value: summary.vehicles.connected, unit: 'vehicles' },
    { bench: name, metric: 'requests per second', value: summary.requests.perSecond, unit: 'req/s' },
    { bench: name, metric: 'request latency p50', value: summary.requests.latency.p50Ms, unit: 'ms' },
    { bench: name, metric: 'request latency p99', value: summary.requests.latency.p99Ms, unit: 'ms' },
    { bench: name, metric: realHub ? 'simulator peak RSS' : 'peak RSS (simulator + fake hub)', value: Math.round(peakRss / 2 ** 20), unit: 'MB' },
    { bench: name, metric: 'peak RSS per vehicle', value: Number(((peakRss - baseRss) / summary.vehicles.total / 1024).toFixed(1)), unit: 'KB' },
    ...others.filter(([, v]) => v !== null).map(([k, v]): BenchRow => ({ bench: name, metric: `peak RSS ${k}`, value: Math.round((v as number) / 2 ** 20), unit: 'MB' })),
  ])
  process.exit(0)
}
const w = Math.max(...rows.map(([k]) => k.length))
console.log(`\n| ${'metric'.padEnd(w)} | value |\n|${'-'.repeat(w + 2)}|-------|`)
for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`)
for (const [op, o] of Object.entries(summary.requests.perOp)) console.log(`| ${op.padEnd(w)} | ${o.count} req, p50 ${o.p50Ms} ms, p99 ${o.p99Ms} ms |`)
