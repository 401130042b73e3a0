/**
 * station.nearest and reservation.create throughput over MQTT against a
 * trivial echo responder on the same broker software (the embedded aedes),
 * in the same run, with 10,000 stations. Goals (hub issue): nearest >= 0.5x
 * the echo rate, reservation.create >= 0.3x.
 * Run: node --import tsx bench/hub-mqtt.ts [--stations N] [--seconds S] [--concurrency C] [--json]
 */
import { parseArgs } from 'node:util'
import { connectAsync } from 'mqtt'
import { pino } from 'pino'
import prand from 'pure-rand'
import { startEmbeddedBroker } from '../hub/broker/index.js'
import { createRpcClient, createRpcServer, formatTime, type OpArgsInput, type RpcClient } from '../protocol/index.js'
import { UNPACED, closedLoop, startBenchHub } from './bench-hub.js'
import { report, type BenchRow } from './report.js'

const { values } = parseArgs({
  options: {
    stations: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '1.5' },
    concurrency: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
  },
})
const N = Number(values.stations)
const SECONDS = Number(values.seconds)
const C = Number(values.concurrency)
const BOX = { minLat: -18.35, maxLat: -8.53, minLon: -46.62, maxLon: -37.34 }
const rng = prand.xoroshiro128plus(7)
const rnd = (): number => prand.unsafeUniformIntDistribution(0, 1_000_000, rng) / 1_000_000
const randomPosition = () => ({ lat: BOX.minLat + rnd() * (BOX.maxLat - BOX.minLat), lon: BOX.minLon + rnd() * (BOX.maxLon - BOX.minLon) })

/** Closed loop: C requests always in flight for SECONDS; answers per second. */
const stations = Array.from({ length: N }, (_, i) => ({ stationId: `S${i}`, position: randomPosition(), powerKw: 22, priceMinorPerKwh: 73, password: `p${i}` }))
const silent = pino({ level: 'silent' })
const bench = await startBenchHub(stations)
const hub = bench.hub

// The echo responder: the same broker software and the same request/response helper, handlers that do nothing.
const echoBroker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'echo', stations: [], vehicles: [{ vehicleId: 'B1', password: 'b1' }], logger: silent, requestPace: UNPACED })
const echoHubClient = await connectAsync(echoBroker.url, { protocolVersion: 5, clientId: echoBroker.hubCredentials.username, username: echoBroker.hubCredentials.username, password: echoBroker.hubCredentials.password })
const echoReservation = { reservationId: 'r-1', stationId: 'S0', hubId: 'echo', vehicleId: 'B1', position: { lat: 0, lon: 0 }, at: formatTime(0), windowStart: formatTime(0), windowEnd: formatTime(0) }
const echo = createRpcServer({
  client: echoHubClient,
  hubId: 'echo',
  handlers: { 'station.nearest': async () => ({ stations: [] }), 'reservation.create': async () => ({ reservation: echoReservation }) },
})
await echo.start()

async function vehicle(url: string, hubId: string): Promise<{ rpc: RpcClient; close: () => Promise<void> }> {
  const client = await connectAsync(url, { protocolVersion: 5, clientId: 'B1', username: 'B1', password: 'b1' })
  const rpc = createRpcClient({ client, hubId, vehicleId: 'B1', timeoutMs: 30_000, validateResults: false })
  await rpc.start()
  return { rpc, close: async () => { await rpc.close(); await client.endAsync() } }
}

const nearestArgs = (): OpArgsInput<'station.nearest'> => ({ position: randomPosition(), rangeKm: 50, limit: 5 })
const base = Date.now() + 3 * 3600_000
// Times 4 h apart so most creates find a free station (conflicts would still be answered, and counted as errors).
const createArgs = (i: number): OpArgsInput<'reservation.create'> => ({ at: formatTime(base + (i % 5000) * 4 * 3600_000), position: randomPosition(), rangeKm: 50 })

const rows: BenchRow[] = []
const e = await vehicle(echoBroker.url, 'echo')
const h = await vehicle(hub.mqttUrl, 'bench')
// Alternate short rounds of the two sides so a noisy neighbour hurts both alike.
const ROUNDS = 3
const sum = { echoNearest: 0, nearest: 0, echoCreate: 0, create: 0, createErrors: 0 }
for (let r = 0; r < ROUNDS; r++) {
  sum.echoNearest += (await closedLoop(C, SECONDS, () => e.rpc.request('station.nearest', nearestArgs()))).rate / ROUNDS
  sum.nearest += (await closedLoop(C, SECONDS, () => h.rpc.request('station.nearest', nearestArgs()))).rate / ROUNDS
}
for (let r = 0; r < ROUNDS; r++) {
  sum.echoCreate += (await closedLoop(C, SECONDS, (i) => e.rpc.request('reservation.create', createArgs(i)))).rate / ROUNDS
  const c = await closedLoop(C, SECONDS, (i) => h.rpc.request('reservation.create', createArgs(i + r * 1_000_000)))
  sum.create += c.rate / ROUNDS
  sum.createErrors += c.errors
}
await e.close()
await h.close()
const echoNearest = { rate: sum.echoNearest }
const nearest = { rate: sum.nearest }
const echoCreate = { rate: sum.echoCreate }
const create = { rate: sum.create, errors: sum.createErrors }

rows.push({ bench: 'hub-mqtt', metric: 'echo responder (nearest-shaped)', value: Math.round(echoNearest.rate), unit: 'req/s' })
rows.push({ bench: 'hub-mqtt', metric: `station.nearest, ${N.toLocaleString('en-US')} stations`, value: Math.round(nearest.rate), unit: 'req/s' })
rows.push({ bench: 'hub-mqtt', metric: 'station.nearest / echo', value: nearest.rate / echoNearest.rate, unit: 'ratio', goal: '>= 0.5', ok: nearest.rate / echoNearest.rate >= 0.5 })
rows.push({ bench: 'hub-mqtt', metric: 'echo responder (create-shaped)', value: Math.round(echoCreate.rate), unit: 'req/s' })
rows.push({ bench: 'hub-mqtt', metric: `reservation.create (errors ${create.errors})`, value: Math.round(create.rate), unit: 'req/s' })
rows.push({ bench: 'hub-mqtt', metric: 'reservation.create / echo', value: create.rate / echoCreate.rate, unit: 'ratio', goal: '>= 0.3', ok: create.rate / echoCreate.rate >= 0.3 })
report(rows)

await echo.stop()
await echoHubClient.endAsync()
await echoBroker.close()
await bench.close()
