/**
 * route.reserve across three companies, as a vehicle asks for it: over MQTT
 * to a real hub (`feira`) that books one station at itself and one at each
 * of two peers (`salvador`, `ilheus`) by Try-Confirm/Cancel over HTTP on
 * loopback. Three real hubs (startHub: broker, HTTP, SQLite stores) in this
 * one process, the vehicles' MQTT clients too; contention-free (every trip
 * and every booking at its own times).
 *
 * The baseline, measured in the same run against the same hub by the same
 * clients: `reservation.create` over MQTT (one booking at the hub; every
 * trip makes three of them plus the two-phase commit). Short rounds of the
 * two alternate so a noisy neighbour hurts both alike.
 *
 * Goals (issue 16): trips per second with 64 vehicles >= 0.5x creates per
 * second with 64 vehicles; a one-vehicle trip's p50 <= 3x a one-vehicle
 * create's p50. The federation issue's absolute goals (p50 <= 10 ms, >= 500
 * trips/s) are kept as rows. CPU per trip is printed too (the machine may
 * be shared): all three hubs and the clients, per trip. So is a bare HTTP
 * exchange (undici to fastify in this process), and what it bounds: a trip
 * costs at least a create plus its four exchanges (two holds, two confirms),
 * which caps trips/creates and floors trip p50 / create p50 for any hub that
 * makes one federation call per hold and per confirm. So do the peers' own
 * writes, measured at a SQLite store in this process (a hold and its
 * confirm, with the ledger entry, as the federation routes make them, no
 * Idempotency-Key): every trip makes two of each at its peers, whatever its
 * transport.
 * Run: node --import tsx bench/trips.ts [--seconds S] [--concurrency C] [--storage sqlite|memory] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { connectAsync } from 'mqtt'
import { pino } from 'pino'
import { Pool } from 'undici'
import { startHub, type Hub } from '../hub/app.js'
import type { HubConfig } from '../hub/config.js'
import { MemoryStore, SqliteStore } from '../hub/store/index.js'
import { WriteBatcher } from '../hub/store/sqlite/write-batcher.js'
import { createRpcClient, formatTime, type RpcClient } from '../protocol/index.js'
import { specConfig, token, type HubSpec } from '../test/helpers/federation-hubs.js'
import { freePort } from '../test/helpers/net.js'
import { BENCH_RULES, UNPACED } from './bench-hub.js'
import { percentile, report, type BenchRow } from './report.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    concurrency: { type: 'string', default: '64' },
    storage: { type: 'string', default: 'sqlite' },
    json: { type: 'boolean', default: false },
  },
})
const SECONDS = Number(values.seconds)
const C = Number(values.concurrency)
const STORAGE = values.storage === 'memory' ? 'memory' : 'sqlite'
const ROUNDS = 3

/** Three hubs with four stations each, 100 m apart, at their cities. */
const HUBS: HubSpec[] = [
  { hubId: 'feira', city: 'Feira de Santana', position: { lat: -12.2664, lon: -38.9663 } },
  { hubId: 'salvador', city: 'Salvador', position: { lat: -12.9714, lon: -38.5014 } },
  { hubId: 'ilheus', city: 'Ilhéus', position: { lat: -14.7936, lon: -39.0463 } },
].map((h) => ({ ...h, stations: Array.from({ length: 4 }, (_, i) => ({ stationId: `${h.hubId}-${i}`, position: { lat: h.position.lat + i * 0.001, lon: h.position.lon } })) }))
const LINKS = [
  { from: 'feira', to: 'salvador', distanceKm: 108 },
  { from: 'salvador', to: 'ilheus', distanceKm: 400 },
]
const VEHICLES = Array.from({ length: C }, (_, i) => ({ vehicleId: `V${i}`, password: `v${i}-bench-pass` }))

const dir = mkdtempSync(join(tmpdir(), 'voltway-bench-trips-'))
const ports = new Map<string, { mqtt: number; http: number }>()
for (const h of HUBS) ports.set(h.hubId, { mqtt: await freePort(), http: await freePort() })
const configs: HubConfig[] = HUBS.map((h) =>
  specConfig(h, {
    dataDir: join(dir, h.hubId),
    mqtt: { listen: { host: '127.0.0.1', port: ports.get(h.hubId)?.mqtt ?? 0 } },
    httpPort: ports.get(h.hubId)?.http ?? 0,
    vehicles: VEHICLES,
    peers: HUBS.filter((o) => o.hubId !== h.hubId).map((o) => ({ hubId: o.hubId, url: `http://127.0.0.1:${ports.get(o.hubId)?.http}`, token: token(h.hubId, o.hubId), acceptToken: token(o.hubId, h.hubId) })),
    links: LINKS,
    rules: BENCH_RULES,
  }),
)

const hubs: Hub[] = []
for (const config of configs) {
  hubs.push(
    await startHub(config, {
      logger: pino({ level: 'silent' }),
      ephemeralPorts: false,
      brokerRequestPace: UNPACED,
      federationTuning: { connections: C },
      ...(STORAGE === 'memory' ? { store: new MemoryStore() } : {}),
    }),
  )
}
const feira = hubs[0] as Hub
// hub.json's passwords are hashed into each store in the background after start (scrypt, ~200 of them here): not measured.
await Promise.all(hubs.map((h) => h.accounts.seeded))

const clients: Array<{ rpc: RpcClient; close: () => Promise<void> }> = []
for (const v of VEHICLES) {
  const client = await connectAsync(feira.mqttUrl, { protocolVersion: 5, clientId: v.vehicleId, username: v.vehicleId, password: v.password })
  const rpc = createRpcClient({ client, hubId: 'feira', vehicleId: v.vehicleId, timeoutMs: 30_000, validateResults: false })
  await rpc.start()
  clients.push({ rpc, close: async () => { await rpc.close(); await client.endAsync() } })
}
const rpcOf = (v: number): RpcClient => (clients[v] as { rpc: RpcClient }).rpc

const { route } = await rpcOf(0).request('route.list', { destination: 'ilheus' })
const from = { lat: -12.2664, lon: -38.9663 }
const HOUR = 3_600_000
// Nothing ever competes, and everything stays within BENCH_RULES' 10-year horizon. Bookings of one station
// exactly a window (2 h) apart do not conflict. Trips from +3 h on, 2 h apart: each hub sees one booking per trip,
// 2 h from the one before (10,000 trips reach +2.3 years). Creates from +3 years on at Feira, four per 2 h slot,
// each from the position of its own station, so its nearest station is free (122,000 creates before +10 years).
const tripBase = Date.now() + 3 * HOUR
const createBase = Date.now() + 3 * 365 * 24 * HOUR
const feiraStations = (HUBS[0] as HubSpec).stations.map((st) => st.position)
let tripSlot = 0
let createSlot = 0

function trip(v: number): Promise<unknown> {
  const t0 = tripBase + tripSlot++ * 2 * HOUR
  return rpcOf(v).request('route.reserve', { routeId: route.routeId, times: [formatTime(t0), formatTime(t0 + HOUR), formatTime(t0 + 2 * HOUR)], position: from, rangeKm: 250 })
}

function create(v: number): Promise<unknown> {
  const k = createSlot++
  const position = feiraStations[k % feiraStations.length] as { lat: number; lon: number }
  return rpcOf(v).request('reservation.create', { at: formatTime(createBase + Math.floor(k / feiraStations.length) * 2 * HOUR), position, rangeKm: 50 })
}

interface Run {
  latencies: number[]
  done: number
  errors: number
  ms: number
}

/** Closed loop: `concurrency` vehicles, each with one request in flight, for `seconds`. */
async function drive(seconds: number, concurrency: number, call: (v: number) => Promise<unknown>): Promise<Run> {
  const latencies: number[] = []
  let done = 0
  let errors = 0
  const started = performance.now()
  const deadline = started + seconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async (_, v) => {
      while (performance.now() < deadline) {
        const t = performance.now()
        try {
          await call(v)
          latencies.push(performance.now() - t)
          done++
        } catch {
          errors++
        }
      }
    }),
  )
  return { latencies, done, errors, ms: performance.now() - started }
}

function merge(runs: Run[]): Run {
  return runs.reduce((a, r) => ({ latencies: a.latencies.concat(r.latencies), done: a.done + r.done, errors: a.errors + r.errors, ms: a.ms + r.ms }), { latencies: [], done: 0, errors: 0, ms: 0 })
}

const rateOf = (r: Run): number => (r.done * 1000) / r.ms
const lat = (xs: number[]): { p50: number; p99: number } => {
  const sorted = [...xs].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
}

// Warm-up (JIT, pools, SQLite caches), then one vehicle at a time for latency and C at once for rates:
// with C always in flight latency is C / rate (Little's law), so the two are measured apart.
await drive(Math.min(1, SECONDS / 6), C, create)
await drive(Math.min(1, SECONDS / 6), C, trip)
const one = { create: [] as Run[], trip: [] as Run[] }
const many = { create: [] as Run[], trip: [] as Run[] }
const cpuUs = { create: 0, trip: 0 }
/** `work`, adding the CPU time this process spent meanwhile to `cpuUs[kind]`. */
async function timed(kind: 'create' | 'trip', work: () => Promise<Run>): Promise<Run> {
  const cpu0 = process.cpuUsage()
  const out = await work()
  const cpu = process.cpuUsage(cpu0)
  cpuUs[kind] += cpu.user + cpu.system
  return out
}
/** Group commits of the three hubs' SQLite connections so far (zero on the memory store). */
const commitsNow = (): number => hubs.reduce((n, h) => n + (h.context.store instanceof SqliteStore ? WriteBatcher.for(h.context.store.db).commits : 0), 0)
const commits = { create: 0, trip: 0 }
/** `work`, adding the group commits made meanwhile to `commits[kind]` (one vehicle: every write is its own commit). */
async function counted(kind: 'create' | 'trip', work: () => Promise<Run>): Promise<Run> {
  const c0 = commitsNow()
  const out = await work()
  commits[kind] += commitsNow() - c0
  return out
}
for (let r = 0; r < ROUNDS; r++) {
  one.create.push(await counted('create', () => drive(SECONDS / ROUNDS / 3, 1, create)))
  one.trip.push(await counted('trip', () => drive(SECONDS / ROUNDS / 3, 1, trip)))
}
for (let r = 0; r < ROUNDS; r++) {
  many.create.push(await timed('create', () => drive(SECONDS / ROUNDS, C, create)))
  many.trip.push(await timed('trip', () => drive(SECONDS / ROUNDS, C, trip)))
}
const exchange = await bareExchange()
const peerWrite = await peerWrites()
const oneCreate = merge(one.create)
const oneTrip = merge(one.trip)
const manyCreate = merge(many.create)
const manyTrip = merge(many.trip)
const p1 = { create: lat(oneCreate.latencies), trip: lat(oneTrip.latencies) }
const pC = lat(manyTrip.latencies)
const rate = { create: rateOf(manyCreate), trip: rateOf(manyTrip) }
const failed = oneTrip.errors + manyTrip.errors
const name = `trips (${STORAGE})`
const cpuPerCreateMs = cpuUs.create / 1000 / Math.max(1, manyCreate.done)
const rows: BenchRow[] = [
  { bench: name, metric: 'reservation.create over MQTT p50, 1 vehicle (baseline)', value: p1.create.p50, unit: 'ms' },
  { bench: name, metric: '3-hop route.reserve over MQTT p50, 1 vehicle', value: p1.trip.p50, unit: 'ms', goal: '<= 10', ok: p1.trip.p50 <= 10 },
  { bench: name, metric: '3-hop route.reserve p99, 1 vehicle', value: p1.trip.p99, unit: 'ms' },
  { bench: name, metric: 'trip p50 / reservation.create p50, 1 vehicle', value: p1.trip.p50 / p1.create.p50, unit: 'ratio', goal: '<= 3', ok: p1.trip.p50 / p1.create.p50 <= 3 },
  { bench: name, metric: `reservation.create over MQTT per second, ${C} vehicles (baseline)`, value: Math.round(rate.create), unit: 'req/s' },
  // A refused create is answered fast: creates that fail would inflate the baseline's rate, so none may.
  { bench: name, metric: 'failed creates (baseline)', value: manyCreate.errors + oneCreate.errors, unit: 'requests', goal: '0', ok: manyCreate.errors + oneCreate.errors === 0 },
  { bench: name, metric: `trips booked per second, ${C} vehicles`, value: Math.round(rate.trip), unit: 'trips/s', goal: '>= 500', ok: rate.trip >= 500 },
  { bench: name, metric: 'trips per second / reservation.create per second', value: rate.trip / rate.create, unit: 'ratio', goal: '>= 0.5', ok: rate.trip / rate.create >= 0.5 },
  { bench: name, metric: `route.reserve p50, ${C} vehicles`, value: pC.p50, unit: 'ms' },
  { bench: name, metric: `route.reserve p99, ${C} vehicles`, value: pC.p99, unit: 'ms' },
  { bench: name, metric: 'CPU per reservation.create (hub and clients, one process)', value: cpuPerCreateMs, unit: 'ms' },
  { bench: name, metric: 'CPU per trip (three hubs and the clients, one process)', value: cpuUs.trip / 1000 / Math.max(1, manyTrip.done), unit: 'ms' },
  // Counted, not timed: with one vehicle every write waits for its own commit, most of them in sequence.
  { bench: name, metric: 'SQLite group commits per reservation.create, 1 vehicle', value: commits.create / Math.max(1, oneCreate.done), unit: 'commits' },
  { bench: name, metric: 'SQLite group commits per trip (three hubs), 1 vehicle', value: commits.trip / Math.max(1, oneTrip.done), unit: 'commits' },
  { bench: name, metric: 'one bare HTTP exchange in this process (undici Pool to fastify, hold-sized JSON, no auth, no store): CPU, 64 in flight', value: exchange.cpuUs, unit: 'µs' },
  { bench: name, metric: 'one bare HTTP exchange, p50, one in flight', value: exchange.p50Us, unit: 'µs' },
  // A trip does at least a create's work (the MQTT request, its request id, one booking: the hold here) plus
  // two holds and two confirms over HTTP; with everything else free, these give the best ratios possible.
  { bench: name, metric: 'ceiling of trips/s / creates/s: create CPU / (create CPU + 4 bare exchanges)', value: cpuPerCreateMs / (cpuPerCreateMs + (4 * exchange.cpuUs) / 1000), unit: 'ratio' },
  { bench: name, metric: 'floor of trip p50 / create p50: (create p50 + 3 bare exchanges in sequence) / create p50', value: (p1.create.p50 + (3 * exchange.p50Us) / 1000) / p1.create.p50, unit: 'ratio' },
  { bench: name, metric: "a peer's hold and its confirm at the store (SQLite, with the ledger entry, no HTTP): CPU per pair, 64 in flight", value: peerWrite.cpuUs, unit: 'µs' },
  { bench: name, metric: "a peer's hold and its confirm at the store: p50 of the pair, one in flight", value: peerWrite.p50Us, unit: 'µs' },
  // Every trip also makes two holds and two confirms at its peers' stores, however it reaches them: with free
  // transport and nothing else, a trip still costs a create plus those writes (and the coordinator's own three).
  { bench: name, metric: "ceiling of trips/s / creates/s counting the peers' writes too: create CPU / (create CPU + 4 bare exchanges + 2 peer hold-and-confirm pairs)", value: cpuPerCreateMs / (cpuPerCreateMs + (4 * exchange.cpuUs + 2 * peerWrite.cpuUs) / 1000), unit: 'ratio' },
  { bench: name, metric: "ceiling of that ratio with the federation's transport free: create CPU / (create CPU + 2 peer hold-and-confirm pairs)", value: cpuPerCreateMs / (cpuPerCreateMs + (2 * peerWrite.cpuUs) / 1000), unit: 'ratio' },
  { bench: name, metric: "floor of trip p50 / create p50 counting the peers' writes in sequence (two holds, then the confirms side by side)", value: (p1.create.p50 + (3 * exchange.p50Us + 2 * peerWrite.holdP50Us + peerWrite.confirmP50Us) / 1000) / p1.create.p50, unit: 'ratio' },
  // Two-phase booking needs the trip's decision durable before any confirm leaves (recovery must know confirms may
  // exist): the coordinator's own write, in sequence too. It confirms the hold here in the same commit, so it
  // writes at least what a peer's confirm does.
  { bench: name, metric: "floor of trip p50 / create p50 counting the peers' writes and the coordinator's decision write (as a confirm) in sequence", value: (p1.create.p50 + (3 * exchange.p50Us + 2 * peerWrite.holdP50Us + 2 * peerWrite.confirmP50Us) / 1000) / p1.create.p50, unit: 'ratio' },
  { bench: name, metric: 'failed trips', value: failed, unit: 'trips', goal: '0', ok: failed === 0 },
]
report(rows)

for (const c of clients) await c.close()
for (const h of hubs.reverse()) await h.close()
rmSync(dir, { recursive: true, force: true })

/**
 * What a trip makes its peers write, measured at the store (no HTTP, no auth, no validation): a peer's
 * hold (its booking, the ledger entry, the vehicle's limit counted) and then its confirm (the reservation,
 * the ledger entry confirmed), on a SQLite store of its own with the hub's background checkpoints. CPU per
 * pair with C in flight (the group commit shared as at a loaded hub), and p50s with one in flight.
 */
async function peerWrites(): Promise<{ cpuUs: number; p50Us: number; holdP50Us: number; confirmP50Us: number }> {
  const store = new SqliteStore({ dataDir: mkdtempSync(join(dir, 'peer-')), backgroundCheckpoints: true })
  const stations = (HUBS[1] as HubSpec).stations.map((st) => ({ stationId: st.stationId, position: st.position }))
  let k = 0
  const holdMs: number[] = []
  const confirmMs: number[] = []
  const pair = async (): Promise<unknown> => {
    const i = k++
    const nowMs = Date.now()
    const holdId = `bench-hold-${i}`
    const t0 = performance.now()
    const placed = await store.peerHolds.placePeerHold(
      { holdId, vehicleId: `V${i % C}`, atMs: tripBase + i * 2 * HOUR, candidates: stations, windowMs: 2 * HOUR, nowMs, expiresAtMs: nowMs + 30_000, txId: `bench-tx-${i}`, txStartedAtMs: nowMs, limit: { max: BENCH_RULES.maxReservationsPerVehicle, fromMs: nowMs - 2 * HOUR } },
      'feira',
    )
    if (!placed.ok) throw new Error('bench: a peer hold was refused')
    const t1 = performance.now()
    const confirmed = await store.peerHolds.confirmPeerHold({ holdId, reservationId: `bench-r-${i}`, nowMs: Date.now() }, 'feira')
    if (confirmed.status !== 'confirmed') throw new Error(`bench: a peer confirm answered ${confirmed.status}`)
    holdMs.push(t1 - t0)
    confirmMs.push(performance.now() - t1)
    return confirmed
  }
  try {
    await drive(0.5, C, pair)
    const cpu0 = process.cpuUsage()
    const many = await drive(SECONDS / ROUNDS, C, pair)
    const cpu = process.cpuUsage(cpu0)
    holdMs.length = 0
    confirmMs.length = 0
    const one = await drive(SECONDS / ROUNDS / 3, 1, pair)
    if (many.errors + one.errors > 0) throw new Error(`bench: ${many.errors + one.errors} peer writes failed`)
    return { cpuUs: (cpu.user + cpu.system) / Math.max(1, many.done), p50Us: lat(one.latencies).p50 * 1000, holdP50Us: lat(holdMs).p50 * 1000, confirmP50Us: lat(confirmMs).p50 * 1000 }
  } finally {
    await store.close()
  }
}

/**
 * The least a federation call can cost here: undici (the federation client's library) to fastify
 * (the federation server's) on loopback in this process, a POST with a hold request's body answered
 * with a hold's JSON, no auth, no validation, no store. CPU per exchange with C in flight, and p50 with one.
 */
async function bareExchange(): Promise<{ cpuUs: number; p50Us: number }> {
  const app = Fastify({ logger: false })
  const hold = { holdId: 'h-1', stationId: 'salvador-0', position: from, at: formatTime(tripBase), expiresAt: formatTime(tripBase + 30_000) }
  app.post('/federation/v1/holds', async () => hold)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const pool = new Pool(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, { connections: C })
  const body = JSON.stringify({ holdId: 'h-1', txId: 't-1', txStartedAt: formatTime(tripBase), vehicleId: 'V0', at: formatTime(tripBase), from, rangeKm: 250, ttlSeconds: 30, maxWaitMs: 1000 })
  const call = async (): Promise<unknown> => {
    const res = await pool.request({ path: '/federation/v1/holds', method: 'POST', headers: { authorization: 'Bearer bench', 'content-type': 'application/json', 'idempotency-key': 'k' }, body })
    return JSON.parse(await res.body.text()) as unknown
  }
  try {
    await drive(0.5, C, call)
    const cpu0 = process.cpuUsage()
    const many = await drive(SECONDS / ROUNDS, C, call)
    const cpu = process.cpuUsage(cpu0)
    const one = await drive(SECONDS / ROUNDS / 3, 1, call)
    return { cpuUs: (cpu.user + cpu.system) / Math.max(1, many.done), p50Us: lat(one.latencies).p50 * 1000 }
  } finally {
    await pool.close()
    await app.close()
  }
}
