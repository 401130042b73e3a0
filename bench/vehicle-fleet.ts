/**
 * 5,000 simulated vehicles, each with its own MQTT connection, against one hub
 * (for now the fake hub of test/helpers on an in-process aedes broker; the
 * broker and hub share this process, so RSS covers all three).
 *
 *   node --import tsx bench/vehicle-fleet.ts [vehicles=5000] [seconds=30]
 */
import { runFleet } from '../vehicle-sim/fleet/engine.js'
import { parseScenario } from '../vehicle-sim/fleet/scenario.js'
import { startFakeHub } from '../test/helpers/vehicle-fake-hub.js'

const vehicles = Number(process.argv[2] ?? 5000)
const seconds = Number(process.argv[3] ?? 30)

const stationsAround = (lat: number, lon: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    stationId: `S${i + 1}`,
    position: { lat: lat + ((i % 20) - 10) * 0.01, lon: lon + (Math.floor(i / 20) - 5) * 0.01 },
    powerKw: 50,
    priceMinorPerKwh: 73,
    status: 'available' as const,
    online: true,
  }))

const hub = await startFakeHub({
  vehiclePattern: { prefix: 'B', password: 'bench' },
  stations: stationsAround(-12.2664, -38.9663, 200),
  peers: [
    { hubId: 'salvador', name: 'Salvador', city: 'Salvador', position: { lat: -12.9714, lon: -38.5014 } },
    { hubId: 'aracaju', name: 'Aracaju', city: 'Aracaju', position: { lat: -10.9472, lon: -37.0731 } },
  ],
  energySpeedup: 100,
})

const scenario = parseScenario({
  name: `bench ${vehicles} vehicles`,
  hubs: [{ hubId: 'feira', url: hub.url, vehicles: { prefix: 'B', count: vehicles, password: 'bench' } }],
  battery: { capacityKwh: 50, soc: { min: 0.25, max: 0.6 }, consumptionKwhPer100Km: 18 },
  policy: { booking: 'mixed', tripShare: 0.3, lowSoc: 0.2, targetSoc: 0.8 },
  charging: { statusIntervalMs: 2000, maxRealSeconds: 5 },
  clock: { compression: 600, tickMs: 200 },
  stop: { realSeconds: seconds, whenAllDone: true },
  connect: { concurrency: 200, timeoutMs: 30_000 },
  requestTimeoutMs: 30_000,
})

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
await hub.close()

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`
const rows: [string, string][] = [
  ['vehicles (connections)', `${summary.vehicles.connected} / ${summary.vehicles.total}${Object.keys(summary.vehicles.connectFailed).length ? ` failed ${JSON.stringify(summary.vehicles.connectFailed)}` : ''}`],
  ['all connected after', connectedAt ? `${((connectedAt - started) / 1000).toFixed(1)} s` : 'n/a'],
  ['run', `${summary.realSeconds} s real, ${summary.simMinutes} min simulated`],
  ['requests', `${summary.requests.total} (${summary.requests.perSecond}/s)`],
  ['request errors', JSON.stringify(summary.requests.errors)],
  ['latency (all ops)', `p50 ${summary.requests.latency.p50Ms} ms, p99 ${summary.requests.latency.p99Ms} ms, max ${summary.requests.latency.maxMs} ms`],
  ['trips / reservations / sessions', `${summary.trips.booked} / ${summary.reservations.booked} / ${summary.charging.sessions}`],
  ['RSS before / peak', `${mb(baseRss)} / ${mb(peakRss)}`],
  ['peak RSS per vehicle (incl. broker + hub)', `${((peakRss - baseRss) / summary.vehicles.total / 1024).toFixed(1)} KB`],
]
const w = Math.max(...rows.map(([k]) => k.length))
console.log(`\n| ${'metric'.padEnd(w)} | value |\n|${'-'.repeat(w + 2)}|-------|`)
for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`)
for (const [op, o] of Object.entries(summary.requests.perOp)) console.log(`| ${op.padEnd(w)} | ${o.count} req, p50 ${o.p50Ms} ms, p99 ${o.p99Ms} ms |`)
