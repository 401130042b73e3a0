/**
 * The original system's way of asking (a new MQTT connection, subscribe,
 * publish, wait for the answer, disconnect, for every request) against
 * Voltway's persistent connection with many requests in flight, against the
 * same hub in the same run. Run: node --import tsx bench/connection-baseline.ts [--seconds S] [--json]
 */
import { parseArgs } from 'node:util'
import { connectAsync } from 'mqtt'
import { createRpcClient, parseJsonObject, topics, useNoDelay } from '../protocol/index.js'
import { closedLoop, startBenchHub } from './bench-hub.js'
import { report, type BenchRow } from './report.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } })
const SECONDS = Number(values.seconds)
const bench = await startBenchHub(Array.from({ length: 100 }, (_, i) => ({ stationId: `S${i}`, position: { lat: -12.9 - i * 0.01, lon: -38.5 }, powerKw: 22, priceMinorPerKwh: 73, password: `p${i}` })))
const hub = bench.hub
const args = { position: { lat: -12.95, lon: -38.5 }, rangeKm: 50, limit: 5 }
const login = { username: 'B1', password: 'b1', protocolVersion: 4 as const, reconnectPeriod: 0 }

/** One request the old way: connect, subscribe, publish, wait, disconnect. */
async function oneShot(i: number): Promise<void> {
  const c = await connectAsync(hub.mqttUrl, { ...login, clientId: `B1:old-${i}` })
  // The same socket tuning as the persistent side, so the ratio measures the pattern, not Nagle.
  useNoDelay(c)
  try {
    await c.subscribeAsync(topics.vehicleResponse('B1'), { qos: 1 })
    const id = `old-${i}`
    const answered = new Promise<void>((resolve) => {
      c.on('message', (_t, payload) => {
        const j = parseJsonObject(payload)
        if (j.ok && j.value.id === id) resolve()
      })
    })
    await c.publishAsync(topics.hubRequest('bench', 'B1'), JSON.stringify({ id, op: 'station.nearest', args }), { qos: 1 })
    await answered
  } finally {
    await c.endAsync()
  }
}

const rate = async (concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> => (await closedLoop(concurrency, SECONDS, fn)).rate

const persistentClient = await connectAsync(hub.mqttUrl, { ...login, clientId: 'B1' })
const rpc = createRpcClient({ client: persistentClient, hubId: 'bench', vehicleId: 'B1', validateResults: false })
await rpc.start()

const rows: BenchRow[] = []
for (const c of [1, 16]) {
  // Interleave so machine noise hits both sides alike.
  const old1 = await rate(c, oneShot)
  const new1 = await rate(c, () => rpc.request('station.nearest', args))
  const old2 = await rate(c, oneShot)
  const new2 = await rate(c, () => rpc.request('station.nearest', args))
  const oldRate = (old1 + old2) / 2
  const newRate = (new1 + new2) / 2
  rows.push({ bench: 'connection-baseline', metric: `connection per request, ${c} in flight`, value: Math.round(oldRate), unit: 'req/s' })
  rows.push({ bench: 'connection-baseline', metric: `persistent connection, ${c} in flight`, value: Math.round(newRate), unit: 'req/s' })
  rows.push({ bench: 'connection-baseline', metric: `persistent / per-request, ${c} in flight`, value: newRate / oldRate, unit: 'ratio', goal: '> 1', ok: newRate > oldRate })
}
report(rows)
await rpc.close()
await persistentClient.endAsync()
await bench.close()
