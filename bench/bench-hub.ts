/** What the MQTT benchmarks share: a real hub with one vehicle `B1`, and a closed-loop driver. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { startHub, type Hub } from '../hub/app.js'
import { HubConfigSchema, type HubConfig } from '../hub/config.js'

export const BENCH_VEHICLE = { vehicleId: 'B1', password: 'b1' } as const

/** Start hub `bench` with these stations on ephemeral ports in a temp dir; `close()` also removes the dir. */
/** The bench's one vehicle stands for a whole fleet, so the per-vehicle request pace is lifted. */
export const UNPACED = { perSecond: 1e9, burst: 1e9 }

export interface BenchHubOptions {
  /** An external broker (hub.json `mqtt.url`) instead of the embedded one. */
  mqttUrl?: string
  /** hub.json `store`; default SQLite in the temp dir. */
  store?: { type: 'postgres'; url: string; schema?: string }
}

export async function startBenchHub(stations: HubConfig['stations'], o: BenchHubOptions = {}): Promise<{ hub: Hub; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-bench-'))
  const config = HubConfigSchema.parse({
    hubId: 'bench',
    name: 'Bench',
    city: 'Salvador',
    position: { lat: -12.97, lon: -38.5 },
    currency: 'BRL',
    dataDir: dir,
    mqtt: o.mqttUrl ? { url: o.mqttUrl } : { listen: { host: '127.0.0.1', port: 0 } },
    ...(o.store ? { store: o.store } : {}),
    http: { host: '127.0.0.1', port: 0 },
    stations,
    vehicles: [BENCH_VEHICLE],
  })
  const hub = await startHub(config, { logger: pino({ level: 'silent' }), ephemeralPorts: true, brokerRequestPace: UNPACED })
  return {
    hub,
    async close() {
      await hub.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Closed loop: `concurrency` calls always in flight for `seconds`; completed calls per second and how many threw. */
export async function closedLoop(concurrency: number, seconds: number, next: (i: number) => Promise<unknown>): Promise<{ rate: number; errors: number }> {
  const t0 = performance.now()
  const deadline = t0 + seconds * 1000
  let done = 0
  let errors = 0
  let i = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          await next(i++)
        } catch {
          errors++
        }
        done++
      }
    }),
  )
  return { rate: done / ((performance.now() - t0) / 1000), errors }
}
