/**
 * station.nearest and reservation.create over MQTT, 10,000 stations, 64
 * requests in flight, against what the broker software itself reaches, all
 * in one run (alternating short rounds so a noisy neighbour hurts every side
 * alike):
 *
 * - bare aedes: aedes with no hooks and an in-process responder that parses
 *   each request and answers at QoS 0 (the ceiling of the embedded broker);
 * - hooked echo: the hub's embedded broker (its ACL, pacing and session
 *   hooks) with the hub's request/response helper on its in-process way in
 *   and out, and handlers that do nothing;
 * - bare Mosquitto: the same bare responder on a Mosquitto process, and the
 *   same again keeping the delivery guarantee a hub keeps (QoS 1 subscription
 *   and answers): what that guarantee alone costs;
 * - hooked echo on Mosquitto: the hub's request server on its own MQTT
 *   connection to that Mosquitto (as a hub with `mqtt.url` runs it), handlers
 *   that do nothing: the hub on Mosquitto over it is the cost of its work;
 * - the hub on its embedded broker (SQLite), the hub on that Mosquitto
 *   (`mqtt.url`, SQLite), and the hub on its embedded broker with PostgreSQL
 *   (one replica; skipped with a row saying so when no server answers).
 *
 * Goals (issue 16): nearest >= 0.6x bare aedes and >= 0.6x bare Mosquitto,
 * reservation.create >= 0.4x bare aedes, on PostgreSQL nearest >= 0.4x bare aedes.
 * Run: node --import tsx bench/hub-mqtt.ts [--stations N] [--seconds S] [--concurrency C] [--no-postgres] [--no-mosquitto] [--json]
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { Aedes } from 'aedes'
import { connectAsync, type MqttClient } from 'mqtt'
import pg from 'pg'
import { pino } from 'pino'
import prand from 'pure-rand'
import { startEmbeddedBroker } from '../hub/broker/index.js'
import { OPS, createRpcClient, createRpcServer, formatTime, topics, useNoDelay, type OpArgs, type OpArgsInput, type RpcClient } from '../protocol/index.js'
import { coreOpHandlers } from '../hub/ops/index.js'
import { batchClientWrites } from '../protocol/coalesce-writes.js'
import { mosquittoBinary, startMosquitto, type MosquittoProcess } from '../test/helpers/mosquitto.js'
import { UNPACED, closedLoop, startBenchHub } from './bench-hub.js'
import { percentile, report, type BenchRow } from './report.js'

const { values } = parseArgs({
  options: {
    stations: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '1.5' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    'no-postgres': { type: 'boolean', default: false },
    'no-mosquitto': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
})
const N = Number(values.stations)
const SECONDS = Number(values.seconds)
const C = Number(values.concurrency)
const ROUNDS = Number(values.rounds)
const PG_URL = process.env.VOLTWAY_BENCH_PG_URL ?? process.env.VOLTWAY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const BOX = { minLat: -18.35, maxLat: -8.53, minLon: -46.62, maxLon: -37.34 }
const rng = prand.xoroshiro128plus(7)
const rnd = (): number => prand.unsafeUniformIntDistribution(0, 1_000_000, rng) / 1_000_000
/** A point in the box to the 1e-6 degree (about 0.1 m), as hub.json and GPS fixes give them. */
const micro = (x: number): number => Math.round(x * 1e6) / 1e6
const randomPosition = () => ({ lat: micro(BOX.minLat + rnd() * (BOX.maxLat - BOX.minLat)), lon: micro(BOX.minLon + rnd() * (BOX.maxLon - BOX.minLon)) })

const stations = Array.from({ length: N }, (_, i) => ({ stationId: `S${i}`, position: randomPosition(), powerKw: 22, priceMinorPerKwh: 73, password: `p${i}` }))
const silent = pino({ level: 'silent' })
const closers: Array<() => Promise<unknown>> = []

/** aedes with no hooks at all on a loopback port. */
async function startBareAedes(): Promise<string> {
  const broker = await Aedes.createBroker()
  const server = createServer((socket) => {
    socket.setNoDelay(true)
    broker.handle(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const addr = server.address()
  closers.push(async () => {
    server.close()
    await new Promise<void>((r) => broker.close(() => r()))
  })
  return `mqtt://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
}

/**
 * The bare responder: parse each request, answer `{id, ok, result}` to its Response Topic with its Correlation
 * Data. At `qos` 0 (the ceiling) it subscribes and answers at QoS 0; at 1 it keeps the delivery guarantee a hub
 * keeps (a QoS 1 subscription, so the broker holds an acknowledged request until the responder acknowledges it;
 * answers at the request's QoS), and nothing else.
 */
async function startBareResponder(url: string, hubId: string, qos: 0 | 1 = 0): Promise<void> {
  const c = await connectAsync(url, { protocolVersion: 5, clientId: `bare-${hubId}`, username: `bare-${hubId}`, password: 'x' })
  useNoDelay(c)
  c.on('message', (topic, payload, packet) => {
    const req = JSON.parse(payload.toString('utf8')) as { id: string }
    const replyTo = packet.properties?.responseTopic ?? topics.vehicleResponse(topic.slice(topic.lastIndexOf('/') + 1))
    const correlationData = packet.properties?.correlationData
    c.publish(replyTo, JSON.stringify({ id: req.id, ok: true, result: { stations: [] } }), { qos: qos === 1 ? packet.qos : 0, ...(correlationData ? { properties: { correlationData } } : {}) })
  })
  await c.subscribeAsync(topics.hubRequestFilter(hubId), { qos })
  closers.push(() => c.endAsync())
}

/** The hub's embedded broker and request helper, with handlers that do nothing. */
async function startHookedEcho(): Promise<string> {
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'echo', stations: [], vehicles: [{ vehicleId: 'B1', password: 'b1' }], logger: silent, requestPace: UNPACED })
  const reservation = { reservationId: 'r-1', stationId: 'S0', hubId: 'echo', vehicleId: 'B1', position: { lat: 0, lon: 0 }, at: formatTime(0), windowStart: formatTime(0), windowEnd: formatTime(0) }
  // The hub's own way in and out of its embedded broker (hub/broker/in-process-requests.ts).
  const echo = createRpcServer({ transport: broker.requests, hubId: 'echo', handlers: { 'station.nearest': async () => ({ stations: [] }), 'reservation.create': async () => ({ reservation }) } })
  await echo.start()
  closers.push(async () => {
    await echo.stop()
    await broker.close()
  })
  return broker.url
}

/**
 * The same echo as a hub on an external broker runs it: the hub's request server on its own MQTT
 * connection (QoS 1 subscription, answers at the request's QoS, one socket write per turn, no mqtt.js
 * debug formatting), handlers that do nothing. What the hub on Mosquitto pays before any query.
 */
async function startHookedEchoOn(url: string, hubId: string): Promise<void> {
  const c = await connectAsync(url, { protocolVersion: 5, clientId: `hub-${hubId}`, username: `hub-${hubId}`, password: 'x', log: () => undefined })
  batchClientWrites(c)
  const echo = createRpcServer({ client: c, hubId, handlers: { 'station.nearest': async () => ({ stations: [] }) } })
  await echo.start()
  closers.push(async () => {
    await echo.stop()
    await c.endAsync()
  })
}

async function vehicle(url: string, hubId: string): Promise<RpcClient> {
  const client: MqttClient = await connectAsync(url, { protocolVersion: 5, clientId: `B1-${hubId}`, username: 'B1', password: 'b1' })
  const rpc = createRpcClient({ client, hubId, vehicleId: 'B1', timeoutMs: 30_000, validateResults: false })
  await rpc.start()
  closers.push(async () => {
    await rpc.close()
    await client.endAsync()
  })
  return rpc
}

/** A fresh schema in the PostgreSQL database, dropped at the end; null when no server answers. */
async function postgresSchema(): Promise<{ url: string; schema: string } | null> {
  const schema = `bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 })
  try {
    await admin.connect()
  } catch {
    return null
  }
  await admin.end()
  closers.push(async () => {
    const c = new pg.Client({ connectionString: PG_URL })
    await c.connect()
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await c.end()
  })
  return { url: PG_URL, schema }
}

const nearestArgs = (): OpArgsInput<'station.nearest'> => ({ position: randomPosition(), rangeKm: 50, limit: 5 })
const base = Date.now() + 3 * 3600_000
// Times 4 h apart so most creates find a free station (conflicts would still be answered, and counted as errors).
let createSeq = 0
const createArgs = (): OpArgsInput<'reservation.create'> => ({ at: formatTime(base + (createSeq++ % 5000) * 4 * 3600_000), position: randomPosition(), rangeKm: 50 })

interface Side {
  name: string
  run: () => Promise<unknown>
  rate: number
  errors: number
  /** CPU of this process (user + system) per answered request, µs: steadier than rates on a loaded machine. */
  cpuUs: number
}
const sides: Side[] = []
const side = (name: string, run: () => Promise<unknown>): void => void sides.push({ name, run, rate: 0, errors: 0, cpuUs: 0 })
const rows: BenchRow[] = []
const ratio = (metric: string, a: string, b: string, goal?: number): void => {
  const x = sides.find((s) => s.name === a)
  const y = sides.find((s) => s.name === b)
  if (!x || !y) return
  const v = x.rate / y.rate
  rows.push({ bench: 'hub-mqtt', metric, value: v, unit: 'ratio', ...(goal !== undefined ? { goal: `>= ${goal}`, ok: v >= goal } : {}) })
}

try {
  const bareAedes = await vehicle(await startBareAedes().then(async (url) => (await startBareResponder(url, 'bare'), url)), 'bare')
  side('bare aedes', () => bareAedes.request('station.nearest', nearestArgs()))
  const echo = await vehicle(await startHookedEcho(), 'echo')
  side('hooked echo', () => echo.request('station.nearest', nearestArgs()))
  const hub = await startBenchHub(stations)
  closers.push(() => hub.close())
  const h = await vehicle(hub.hub.mqttUrl, 'bench')
  side('nearest', () => h.request('station.nearest', nearestArgs()))
  side('create', () => h.request('reservation.create', createArgs()))

  let mosquitto: MosquittoProcess | null = null
  if (!values['no-mosquitto'] && mosquittoBinary()) {
    mosquitto = await startMosquitto()
    closers.push(() => (mosquitto as MosquittoProcess).close())
    await startBareResponder(mosquitto.url, 'bare')
    const bareMosq = await vehicle(mosquitto.url, 'bare')
    side('bare mosquitto', () => bareMosq.request('station.nearest', nearestArgs()))
    await startBareResponder(mosquitto.url, 'bareq1', 1)
    const bareQos1 = await vehicle(mosquitto.url, 'bareq1')
    side('bare mosquitto qos1', () => bareQos1.request('station.nearest', nearestArgs()))
    await startHookedEchoOn(mosquitto.url, 'echo')
    const echoMosq = await vehicle(mosquitto.url, 'echo')
    side('hooked echo mosquitto', () => echoMosq.request('station.nearest', nearestArgs()))
    const mhub = await startBenchHub(stations, { mqttUrl: mosquitto.url })
    closers.push(() => mhub.close())
    const m = await vehicle(mosquitto.url, 'bench')
    side('nearest mosquitto', () => m.request('station.nearest', nearestArgs()))
  } else rows.push({ bench: 'hub-mqtt', metric: 'Mosquitto: skipped (no mosquitto binary, or --no-mosquitto)', value: NaN, unit: '' })

  // The query alone, at the handler (no MQTT, no argument validation), on the embedded hub's
  // store: what any hub must add to the bare responder's work for the same queries. Each round's
  // queries came in together before it (receivedAt), as 64 in flight do: the free check looks at
  // the database once for them, as it does for a loaded hub's queue (BookingQuery.receivedAt).
  const nearestHandler = coreOpHandlers(hub.hub.context)['station.nearest']
  let handlerCpuUs = 0
  for (let r = 0; r < ROUNDS; r++) {
    const n = 3000
    const parsed = Array.from({ length: n }, () => OPS['station.nearest'].args.parse(nearestArgs()))
    const received = { receivedAt: performance.now(), receivedAtMs: hub.hub.context.clock.now() }
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < n; i++) await nearestHandler(parsed[i] as OpArgs<'station.nearest'>, { hubId: 'bench', vehicleId: 'B1', requestId: `h-${r}-${i}`, op: 'station.nearest', ...received })
    const cpu = process.cpuUsage(cpu0)
    if (r > 0 || ROUNDS === 1) handlerCpuUs += (cpu.user + cpu.system) / n / Math.max(1, ROUNDS - 1) // the first round warms up
  }

  const pgSchema = !values['no-postgres'] ? await postgresSchema() : null
  if (pgSchema) {
    const phub = await startBenchHub(stations, { store: { type: 'postgres', ...pgSchema } })
    closers.push(() => phub.close())
    const p = await vehicle(phub.hub.mqttUrl, 'bench')
    side('nearest postgres', () => p.request('station.nearest', nearestArgs()))
  } else rows.push({ bench: 'hub-mqtt', metric: `PostgreSQL: skipped (no server at ${PG_URL.replace(/:[^:@/]*@/, '@')}, or --no-postgres)`, value: NaN, unit: '' })

  // One vehicle, one request at a time: the latency a trip's p50 is compared with (bench/trips.ts).
  const latencies: number[] = []
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now()
    await h.request('reservation.create', createArgs())
    if (i >= 50) latencies.push(performance.now() - t0)
  }
  latencies.sort((a, b) => a - b)

  for (let r = 0; r < ROUNDS; r++) {
    for (const s of sides) {
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      const res = await closedLoop(C, SECONDS, s.run)
      const cpu = process.cpuUsage(cpu0)
      s.cpuUs += (cpu.user + cpu.system) / (res.rate * ((performance.now() - t0) / 1000)) / ROUNDS
      s.rate += res.rate / ROUNDS
      s.errors += res.errors
    }
  }

  const label: Record<string, string> = {
    'bare aedes': 'bare aedes ceiling (no hooks, in-process responder, QoS 0 answers)',
    'hooked echo': 'echo on the hub\'s embedded broker (its hooks, QoS 1 answers), handlers do nothing',
    nearest: `station.nearest, ${N.toLocaleString('en-US')} stations, embedded broker, SQLite`,
    create: 'reservation.create, embedded broker, SQLite',
    'bare mosquitto': 'bare Mosquitto ceiling (same responder, QoS 0 answers)',
    'bare mosquitto qos1': 'bare responder on Mosquitto keeping a hub\'s delivery guarantee (QoS 1 subscription, answers at the request\'s QoS 1)',
    'hooked echo mosquitto': 'echo on Mosquitto with the hub\'s request server on its own connection (QoS 1 answers), handlers do nothing',
    'nearest mosquitto': 'station.nearest, hub on Mosquitto (mqtt.url), SQLite',
    'nearest postgres': 'station.nearest, embedded broker, PostgreSQL (one replica)',
  }
  for (const s of sides) rows.push({ bench: 'hub-mqtt', metric: `${label[s.name] ?? s.name}${s.errors ? ` (errors ${s.errors})` : ''}`, value: Math.round(s.rate), unit: 'req/s' })
  for (const s of sides) rows.push({ bench: 'hub-mqtt', metric: `CPU per request in the bench process: ${s.name}`, value: Math.round(s.cpuUs), unit: 'µs' })
  ratio('station.nearest / bare aedes', 'nearest', 'bare aedes', 0.6)
  ratio('station.nearest / hooked echo', 'nearest', 'hooked echo')
  ratio('station.nearest on Mosquitto / bare Mosquitto', 'nearest mosquitto', 'bare mosquitto', 0.6)
  ratio('station.nearest on Mosquitto / hooked echo on Mosquitto', 'nearest mosquitto', 'hooked echo mosquitto')
  ratio('bare responder keeping QoS 1 / bare Mosquitto (the guarantee alone)', 'bare mosquitto qos1', 'bare mosquitto')
  ratio('reservation.create / bare aedes', 'create', 'bare aedes', 0.4)
  ratio('station.nearest on PostgreSQL / bare aedes', 'nearest postgres', 'bare aedes', 0.4)
  rows.push({ bench: 'hub-mqtt', metric: 'station.nearest handler alone (the query, no MQTT, no validation): CPU per query', value: Math.round(handlerCpuUs), unit: 'µs' })
  // Every side is CPU-bound in this one process, so rates go as 1 / CPU per request. A hub that answered
  // with the bare responder's own MQTT work plus nothing but the query would reach bare / (bare + query).
  for (const [bare, metric] of [['bare aedes', 'bare aedes'], ['bare mosquitto', 'bare Mosquitto']] as const) {
    const b = sides.find((x) => x.name === bare)
    if (b) rows.push({ bench: 'hub-mqtt', metric: `ceiling of station.nearest / ${metric}: bare CPU / (bare CPU + the query's CPU)`, value: b.cpuUs / (b.cpuUs + handlerCpuUs), unit: 'ratio' })
  }
  // The same bound for a hub that keeps its own connection's guarantees (QoS 1 subscription, so a request the
  // broker acknowledged survives a hub restart in its session; answers at the request's QoS): its echo's CPU
  // plus the query, against the bare responder.
  const bareMosquitto = sides.find((x) => x.name === 'bare mosquitto')
  const echoMosquitto = sides.find((x) => x.name === 'hooked echo mosquitto')
  // The tightest bound for any hub that keeps the guarantee: the bare responder at QoS 1 plus the query.
  const bareQos1 = sides.find((x) => x.name === 'bare mosquitto qos1')
  if (bareMosquitto && bareQos1) {
    rows.push({ bench: 'hub-mqtt', metric: 'ceiling of station.nearest / bare Mosquitto for any hub keeping QoS 1: bare CPU / (the QoS 1 responder\'s CPU + the query\'s CPU)', value: bareMosquitto.cpuUs / (bareQos1.cpuUs + handlerCpuUs), unit: 'ratio' })
  }
  if (bareMosquitto && echoMosquitto) {
    rows.push({ bench: 'hub-mqtt', metric: "ceiling of station.nearest / bare Mosquitto for a hub on its own connection: bare CPU / (hooked echo's CPU + the query's CPU)", value: bareMosquitto.cpuUs / (echoMosquitto.cpuUs + handlerCpuUs), unit: 'ratio' })
  }
  rows.push({ bench: 'hub-mqtt', metric: 'reservation.create p50, one vehicle, one in flight', value: percentile(latencies, 50), unit: 'ms' })
  report(rows)
} finally {
  for (const close of closers.reverse()) await close().catch(() => undefined)
}
