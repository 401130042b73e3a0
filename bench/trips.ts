/**
 * route.reserve across three companies: latency (p50, p99) and trips per
 * second with 64 vehicles booking at once, on loopback, without contention
 * (every trip at its own times), in one process with three hubs' federation
 * HTTP servers and their own SQLite files. Each trip is 1 local hold, 2
 * remote holds and 3 confirms (2 remote), every remote call idempotent.
 * Goals (federation issue): p50 <= 10 ms and >= 500 trips/s. The p50 is
 * taken with one vehicle (with C in flight, latency = C / rate), the rate
 * with C; CPU per trip is printed too, as the machine may be shared.
 * Run: node --import tsx bench/trips.ts [--seconds S] [--concurrency C] [--storage sqlite|memory] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { systemClock } from '../base/clock.js'
import { HubConfigSchema, type HubConfig } from '../hub/config.js'
import { createFederation, type Federation } from '../hub/trips/index.js'
import { tripOpHandlers } from '../hub/ops/index.js'
import { buildHttpServer } from '../hub/http/server.js'
import { HubMetrics } from '../hub/metrics.js'
import { StationRegistry } from '../hub/stations/index.js'
import { MemoryStore, SqliteStore, type Store } from '../hub/store/index.js'
import { OPS, formatTime } from '../protocol/index.js'
import { percentile, report, type BenchRow } from './report.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    storage: { type: 'string', default: 'sqlite' },
    json: { type: 'boolean', default: false },
  },
})
const SECONDS = Number(values.seconds)
const C = Number(values.concurrency)
const STORAGE = values.storage === 'memory' ? 'memory' : 'sqlite'

const HUBS = [
  { hubId: 'feira', city: 'Feira de Santana', position: { lat: -12.2664, lon: -38.9663 } },
  { hubId: 'salvador', city: 'Salvador', position: { lat: -12.9714, lon: -38.5014 } },
  { hubId: 'ilheus', city: 'Ilhéus', position: { lat: -14.7936, lon: -39.0463 } },
]
const LINKS = [
  { from: 'feira', to: 'salvador', distanceKm: 108 },
  { from: 'salvador', to: 'ilheus', distanceKm: 400 },
]

const dir = mkdtempSync(join(tmpdir(), 'voltway-bench-trips-'))
const logger = pino({ level: 'silent' })
const ports = new Map<string, number>()
const apps: FastifyInstance[] = []
const feds: Federation[] = []
const stores: Store[] = []

// Listen first (port 0), then tell each hub where its peers are: routes are registered per hub before listening.
const configs: HubConfig[] = []
const servers = await Promise.all(
  HUBS.map(async (h) => {
    const { createServer } = await import('node:net')
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const addr = probe.address()
    const port = typeof addr === 'object' && addr ? addr.port : 0
    await new Promise<void>((r) => probe.close(() => r()))
    ports.set(h.hubId, port)
    return h
  }),
)
for (const h of servers) {
  configs.push(
    HubConfigSchema.parse({
      hubId: h.hubId,
      name: `${h.city} Charging`,
      city: h.city,
      position: h.position,
      currency: 'BRL',
      dataDir: join(dir, h.hubId),
      http: { host: '127.0.0.1', port: ports.get(h.hubId) },
      stations: Array.from({ length: 4 }, (_, i) => ({
        stationId: `${h.hubId}-${i}`,
        position: { lat: h.position.lat + i * 0.001, lon: h.position.lon },
        powerKw: 22,
        priceMinorPerKwh: 73,
        password: 'x',
      })),
      federation: {
        peers: HUBS.filter((o) => o.hubId !== h.hubId).map((o) => ({
          hubId: o.hubId,
          url: `http://127.0.0.1:${ports.get(o.hubId)}`,
          token: `${h.hubId}-${o.hubId}`,
          acceptToken: `${o.hubId}-${h.hubId}`,
        })),
        links: LINKS,
      },
    }),
  )
}

for (const config of configs) {
  const store: Store = STORAGE === 'sqlite' ? new SqliteStore({ dataDir: config.dataDir }) : new MemoryStore()
  stores.push(store)
  const stations = new StationRegistry({ hubId: config.hubId, currency: 'BRL', stations: config.stations, clock: systemClock })
  const fed = createFederation({ config, store, clock: systemClock, logger, stations, tuning: { connections: 64 } })
  feds.push(fed)
  const metrics = new HubMetrics(config.hubId, { stationsOnline: () => 0, stationsTotal: () => stations.size, bookings: () => store.reservations.counts(Date.now()) })
  const app = buildHttpServer({ logger, metrics, peers: config.federation.peers, health: async () => ({ ok: true }), federationRoutes: [fed.routes] })
  await app.listen({ host: '127.0.0.1', port: config.http.port })
  apps.push(app)
  await fed.start()
}

const coordinator = feds[0] as Federation
const { 'route.list': list, 'route.reserve': reserve } = tripOpHandlers({ federation: coordinator })
// A new request id per call: ids of what a request books derive from (vehicle, request id), as retries must find them.
let requests = 0
const ctx = (vehicleId: string) => ({ hubId: 'feira', vehicleId, requestId: `b-${++requests}`, op: 'route.reserve' as const })
const page = await list(OPS['route.list'].args.parse({ destination: 'ilheus' }), { ...ctx('B'), op: 'route.list' })
const routeId = page.route.routeId
const base = Date.now() + 3 * 3_600_000
let slot = 0
const from = { lat: -12.2664, lon: -38.9663 }

/** Each trip gets its own three times, 5 hours apart from any other trip's: no two trips ever compete. */
async function oneTrip(vehicle: number): Promise<number> {
  const s = slot++
  const t0 = base + s * 5 * 3_600_000
  const args = OPS['route.reserve'].args.parse({ routeId, times: [formatTime(t0), formatTime(t0 + 3_600_000), formatTime(t0 + 2 * 3_600_000)], position: from, rangeKm: 250 })
  const started = performance.now()
  await (reserve as NonNullable<typeof reserve>)(args, ctx(`B${vehicle}`))
  return performance.now() - started
}

async function drive(seconds: number, record: boolean, concurrency: number): Promise<{ latencies: number[]; done: number; errors: number; ms: number }> {
  const latencies: number[] = []
  let done = 0
  let errors = 0
  const started = performance.now()
  const deadline = started + seconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async (_, v) => {
      while (performance.now() < deadline) {
        try {
          const ms = await oneTrip(v)
          if (record) latencies.push(ms)
          done++
        } catch {
          errors++
        }
      }
    }),
  )
  return { latencies, done, errors, ms: performance.now() - started }
}

// Latency is measured with one vehicle at a time; throughput with C at once. Both at once cannot
// meet both goals: with C trips always in flight, latency = C / throughput (Little's law).
await drive(Math.min(1, SECONDS / 4), false, C)
const single = await drive(Math.max(1, SECONDS / 2), true, 1)
const cpu0 = process.cpuUsage()
const run = await drive(SECONDS, true, C)
const cpu = process.cpuUsage(cpu0)
const cpuPerTripMs = (cpu.user + cpu.system) / 1000 / Math.max(1, run.done)
const lat = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
}
const one = lat(single.latencies)
const many = lat(run.latencies)
const rate = (run.done * 1000) / run.ms
const name = `trips (${STORAGE})`
const rows: BenchRow[] = [
  { bench: name, metric: '3-hop route.reserve p50, 1 vehicle', value: one.p50, unit: 'ms', goal: '<= 10', ok: one.p50 <= 10 },
  { bench: name, metric: '3-hop route.reserve p99, 1 vehicle', value: one.p99, unit: 'ms' },
  { bench: name, metric: `trips booked per second, ${C} vehicles`, value: rate, unit: 'trips/s', goal: '>= 500', ok: rate >= 500 },
  { bench: name, metric: `route.reserve p50, ${C} vehicles`, value: many.p50, unit: 'ms' },
  { bench: name, metric: `route.reserve p99, ${C} vehicles`, value: many.p99, unit: 'ms' },
  { bench: name, metric: 'CPU per trip (three hubs, one process)', value: cpuPerTripMs, unit: 'ms' },
  { bench: name, metric: 'failed trips', value: run.errors + single.errors, unit: 'trips', goal: '0', ok: run.errors + single.errors === 0 },
]
report(rows)

for (const f of feds) await f.close()
for (const a of apps) await a.close()
for (const s of stores) await s.close()
rmSync(dir, { recursive: true, force: true })
