/**
 * station.nearest in-process, at the handler level: 100,000 stations in a
 * Bahia-sized box, an SQLite store holding reservations, queries/s and
 * latency percentiles. Run: node --import tsx bench/nearest.ts [--stations N] [--queries N]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import Table from 'cli-table3'
import { report, type BenchRow } from './report.js'
import { HubConfigSchema, type HubConfig } from '../hub/config.js'
import { TestClock } from '../hub/clock.js'
import { coreOpHandlers, createHubContext } from '../hub/ops/index.js'
import { SqliteStore } from '../hub/store/index.js'
import { OPS, formatTime, type HandlerTable, type OpArgs, type OpHandler, type OpName, type OpResult } from '../protocol/index.js'
import prand from 'pure-rand'
import { BENCH_RULES } from './bench-hub.js'

const { values } = parseArgs({
  options: {
    stations: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '10000' },
    reservations: { type: 'string', default: '20000' },
    json: { type: 'boolean', default: false },
  },
})
const N_STATIONS = Number(values.stations)
const N_QUERIES = Number(values.queries)
const N_RESERVATIONS = Number(values.reservations)
const BOX = { minLat: -18.35, maxLat: -8.53, minLon: -46.62, maxLon: -37.34 } // Bahia, roughly
const MIN = 60_000

/** A seeded uniform [0, 1) from pure-rand, so runs are reproducible. */
function seededRandom(seed: number): () => number {
  const rng = prand.xoroshiro128plus(seed)
  return () => prand.unsafeUniformIntDistribution(0, 2 ** 31 - 1, rng) / 2 ** 31
}
const rand = seededRandom(2026)
const randomPosition = (): { lat: number; lon: number } => ({
  lat: BOX.minLat + rand() * (BOX.maxLat - BOX.minLat),
  lon: BOX.minLon + rand() * (BOX.maxLon - BOX.minLon),
})

const dir = mkdtempSync(join(tmpdir(), 'voltway-bench-'))
const clock = new TestClock('2026-11-24T12:00:00Z')
const base = HubConfigSchema.parse({
  hubId: 'bahia',
  name: 'Bahia Bench',
  city: 'Salvador',
  position: { lat: -12.97, lon: -38.5 },
  currency: 'BRL',
  dataDir: dir,
  http: { port: 0 },
  rules: BENCH_RULES,
})
const config: HubConfig = {
  ...base,
  stations: Array.from({ length: N_STATIONS }, (_, i) => ({
    stationId: `BA-${i}`,
    position: randomPosition(),
    powerKw: 22,
    priceMinorPerKwh: 70 + (i % 50),
    password: 'x',
  })),
}

const rows: string[][] = []
const jsonRows: BenchRow[] = []
const t0 = performance.now()
const store = new SqliteStore({ dataDir: dir })
const ctx = createHubContext({ config, store, clock })
const handlers: HandlerTable = coreOpHandlers(ctx)
rows.push(['build: registry + kd-tree', `${N_STATIONS.toLocaleString('en')} stations`, '', `${(performance.now() - t0).toFixed(0)} ms`, '', '', ''])

// Reservations spread over the next day, at random stations.
const t1 = performance.now()
const atBase = clock.now() + 180 * MIN
for (let i = 0; i < N_RESERVATIONS; i++) {
  const s = config.stations[Math.floor(rand() * N_STATIONS)]
  if (!s) continue
  await store.reservations.createReservation({
    reservationId: `seed-${i}`,
    vehicleId: `V${i % 1000}`,
    atMs: atBase + Math.floor(rand() * 24 * 60) * MIN,
    candidates: [{ stationId: s.stationId, position: s.position }],
    windowMs: ctx.rules.windowMs,
    nowMs: clock.now(),
  })
}
const counts = await store.reservations.counts(clock.now())
rows.push(['seed: store.createReservation', `${counts.reservations.toLocaleString('en')} stored`, '', `${(performance.now() - t1).toFixed(0)} ms`, '', '', ''])

let requests = 0
function handler<O extends OpName>(op: O): (args: OpArgs<O>) => Promise<OpResult<O>> {
  const h = handlers[op] as OpHandler<O> | undefined
  if (!h) throw new Error(`no handler for ${op}`)
  // A new request id per call: what a request books is named after (vehicle, request id).
  return (args) => h(args, { hubId: config.hubId, vehicleId: 'BENCH', requestId: `b-${++requests}`, op })
}

async function measure(label: string, n: number, run: (i: number) => Promise<number>): Promise<void> {
  for (let i = 0; i < Math.min(500, n); i++) await run(i) // warm up
  const lat = new Float64Array(n)
  let results = 0
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  for (let i = 0; i < n; i++) {
    const s = performance.now()
    results += await run(i)
    lat[i] = performance.now() - s
  }
  const total = performance.now() - start
  const cpu = process.cpuUsage(cpu0)
  const cpuPerQueryUs = (cpu.user + cpu.system) / n
  lat.sort()
  const pct = (p: number): string => `${((lat[Math.min(n - 1, Math.floor(p * n))] ?? 0) * 1000).toFixed(0)} µs`
  jsonRows.push({ bench: 'nearest', metric: `${label}: CPU-bound rate`, value: Math.round(1e6 / cpuPerQueryUs), unit: 'q/s' })
  jsonRows.push({ bench: 'nearest', metric: `${label}: p50`, value: Math.round((lat[Math.floor(0.5 * n)] ?? 0) * 1000), unit: 'µs' })
  rows.push([
    label,
    `${Math.round((n / total) * 1000).toLocaleString('en')} q/s`,
    `${Math.round(1e6 / cpuPerQueryUs).toLocaleString('en')} q/s`,
    `${total.toFixed(0)} ms / ${n.toLocaleString('en')}`,
    pct(0.5),
    pct(0.99),
    (results / n).toFixed(1),
  ])
}

const nearest = handler('station.nearest')
const atFuture = formatTime(atBase + 6 * 60 * MIN)
const queries = Array.from({ length: N_QUERIES }, () => randomPosition())
const q = (i: number): { lat: number; lon: number } => queries[i % queries.length] ?? { lat: -12, lon: -38 }
const args = (over: Partial<OpArgs<'station.nearest'>>): OpArgs<'station.nearest'> => OPS['station.nearest'].args.parse({ position: { lat: 0, lon: 0 }, rangeKm: 50, ...over })

await measure('station.nearest 50 km, limit 5, at now', N_QUERIES, async (i) => (await nearest(args({ position: q(i), rangeKm: 50 }))).stations.length)
await measure('station.nearest 50 km, limit 20, at +9 h', N_QUERIES, async (i) => (await nearest(args({ position: q(i), rangeKm: 50, limit: 20, at: atFuture }))).stations.length)
await measure('station.nearest 300 km, limit 100, at +9 h', Math.floor(N_QUERIES / 4), async (i) => (await nearest(args({ position: q(i), rangeKm: 300, limit: 100, at: atFuture }))).stations.length)
await measure('station.nearest 5 km, limit 5 (sparse)', N_QUERIES, async (i) => (await nearest(args({ position: q(i), rangeKm: 5 }))).stations.length)
// Baseline in the same run: the same question answered by a linear scan over every station
// (great-circle distance to all of them, keep those in range, sort, take 5), no index.
const toRad = Math.PI / 180
const haversineKm = (a: { lat: number; lon: number }, b: { lat: number; lon: number }): number => {
  const dLat = (b.lat - a.lat) * toRad
  const dLon = (b.lon - a.lon) * toRad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * toRad) * Math.cos(b.lat * toRad) * Math.sin(dLon / 2) ** 2
  return 2 * 6371.0088 * Math.asin(Math.sqrt(h))
}
const scanQueries = Math.max(50, Math.floor(N_QUERIES / 50))
const cpuScan0 = process.cpuUsage()
for (let i = 0; i < scanQueries; i++) {
  const p = q(i)
  const hits: Array<[number, string]> = []
  for (const st of config.stations) {
    const d = haversineKm(p, st.position)
    if (d <= 50) hits.push([d, st.stationId])
  }
  hits.sort((a, b) => a[0] - b[0]).slice(0, 5)
}
const cpuScan = process.cpuUsage(cpuScan0)
const scanRate = scanQueries / ((cpuScan.user + cpuScan.system) / 1e6)
const indexRate = jsonRows.find((r) => r.metric.startsWith('station.nearest 50 km, limit 5') && r.unit === 'q/s')?.value ?? NaN
jsonRows.push({ bench: 'nearest', metric: `linear scan over ${N_STATIONS.toLocaleString('en-US')} stations (baseline, no index, no store)`, value: Math.round(scanRate), unit: 'q/s' })
jsonRows.push({ bench: 'nearest', metric: 'indexed nearest (with the free check) / linear scan', value: indexRate / scanRate, unit: 'ratio', goal: '>= 10', ok: indexRate / scanRate >= 10 })
rows.push(['baseline: linear scan, 50 km, limit 5', '', `${Math.round(scanRate).toLocaleString('en')} q/s`, '', '', '', ''])

const create = handler('reservation.create')
await measure('reservation.create nearest free, 50 km', Math.floor(N_QUERIES / 4), async (i) => {
  const r = await create({ at: formatTime(atBase + (i % 48) * 30 * MIN), position: q(i), rangeKm: 50 }).catch(() => null)
  return r ? 1 : 0
})

if (process.argv.includes('--json')) report(jsonRows)
else {
const table = new Table({
  head: ['benchmark', 'wall rate', 'CPU-bound rate', 'time', 'p50', 'p99', 'avg results'],
  style: { head: [], border: [] },
})
table.push(...rows)
console.log(`Voltway bench: nearest search (node ${process.version}, ${N_STATIONS.toLocaleString('en')} stations, SQLite store)`)
console.log(table.toString())
console.log('CPU-bound rate = queries per second of this process\'s CPU time (user + system): unaffected by other load on the machine.')
}

await store.close()
rmSync(dir, { recursive: true, force: true })
