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

export async function startBenchHub(stations: HubConfig['stations']): Promise<{ hub: Hub; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-bench-'))
  const config = HubConfigSchema.parse({
    hubId: 'bench',
    name: 'Bench',
    city: 'Salvador',
    position: { lat: -12.97, lon: -38.5 },
    currency: 'BRL',
    dataDir: dir,
    mqtt: { listen: { host: '127.0.0.1', port: 0 } },
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

/**
 * Closed loop: `concurrency` workers, each with one call in flight, for `seconds`.
 * `next(i, worker)` gets a call number unique in the loop and the worker's index
 * (0 .. concurrency-1, say a vehicle). Returns completed calls per second, how
 * many threw, and the latency of each call that did not throw, ms, ascending.
 */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  next: (i: number, worker: number) => Promise<unknown>,
): Promise<{ rate: number; errors: number; latencies: number[] }> {
  const t0 = performance.now()
  const deadline = t0 + seconds * 1000
  const latencies: number[] = []
  let done = 0
  let errors = 0
  let i = 0
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const started = performance.now()
        try {
          await next(i++, worker)
          latencies.push(performance.now() - started)
        } catch {
          errors++
        }
        done++
      }
    }),
  )
  return { rate: done / ((performance.now() - t0) / 1000), errors, latencies: latencies.sort((a, b) => a - b) }
}
