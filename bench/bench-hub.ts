/** What the MQTT benchmarks share: a real hub with one vehicle `B1`, and a closed-loop driver. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { startHub, type Hub } from '../hub/app.js'
import { HubConfigSchema, type HubConfig } from '../hub/config.js'
import { SEEDED, hashPassword } from '../hub/broker/password-hash.js'
import { openHubStore } from '../hub/store/open.js'

export const BENCH_VEHICLE = { vehicleId: 'B1', password: 'b1' } as const

/**
 * Rules for benches, which book far more for one vehicle, and further ahead,
 * than a driver would: the per-vehicle limit and the horizon (defaults 20 and
 * 30 days) raised to their maximum so they never shape a figure.
 */
export const BENCH_RULES = { maxAdvanceDays: 3660, maxReservationsPerVehicle: 1_000_000 } as const

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
    rules: BENCH_RULES,
  })
  await preseedAccounts(config)
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
 * Put hub.json's accounts in the store before the hub starts, so its first start does not hash
 * 10,000 station passwords (scrypt, ~80 ms each, one thread busy for minutes) while it is measured.
 * Stations never log in here: they get no password; the vehicle gets its real one.
 */
async function preseedAccounts(config: HubConfig): Promise<void> {
  const store = await openHubStore(config.store, config.dataDir)
  try {
    const nowMs = Date.now()
    const vehicleHash = `${SEEDED}${await hashPassword(BENCH_VEHICLE.password)}`
    await store.accounts.add({ id: BENCH_VEHICLE.vehicleId, kind: 'vehicle', passwordHash: vehicleHash, station: null, nowMs })
    for (let i = 0; i < config.stations.length; i += 200) {
      await Promise.all(
        config.stations.slice(i, i + 200).map((st) =>
          store.accounts.add({ id: st.stationId, kind: 'station', passwordHash: null, station: { position: st.position, powerKw: st.powerKw, priceMinorPerKwh: st.priceMinorPerKwh }, nowMs }),
        ),
      )
    }
  } finally {
    await store.close()
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
