/**
 * The fleet engine: builds the vehicles from the scenario and seed, connects
 * each with its own MQTT connection (its own username, for the broker's ACL),
 * runs the simulated clock, and at the end cleans up and summarises. A car
 * has that one connection only: it charges at other companies' stations
 * through its home hub (roaming), so the other hubs of the scenario need not
 * know it.
 */
import { forEachLimit } from '../../base/for-each-limit.js'
import type { OpArgsInput, OpName, OpResult, Route } from '../../protocol/index.js'
import { connectVehicle, type VehicleConnection } from '../connect.js'
import { ConnectError, codeOf } from '../errors.js'
import { RequestStats, bump } from '../stats.js'
import { Vehicle } from '../vehicle-model.js'
import { newCounters, type FleetCounters } from './counters.js'
import { FleetVehicle, type FleetContext, type HubRuntime, type Phase } from './fleet-vehicle.js'
import { Rng, randomSeed } from './rng.js'
import { credentialsOf, type HubEntry, type Scenario } from './scenario.js'
import { buildSummary, type FleetSummary } from './summary.js'

export interface FleetSnapshot {
  realMs: number
  simMs: number
  total: number
  phases: Record<Phase, number>
  counters: FleetCounters
  requests: number
  /** 0..1, how far the run is towards its stop condition. */
  progress: number
}

export interface FleetRunOptions {
  seed?: number
  signal?: AbortSignal
  onProgress?: (s: FleetSnapshot) => void
  progressEveryMs?: number
  /** Opens the vehicle's connection to its home hub `hub`; tests may inject. */
  connect?: (v: FleetVehicle, s: Scenario, hub: HubEntry) => Promise<VehicleConnection>
}

export interface FleetResult {
  summary: FleetSummary
  vehicles: FleetVehicle[]
}

/** The vehicles of a scenario, with every random draw made from the seed. */
export function createFleet(s: Scenario, seed: number): FleetVehicle[] {
  const out: FleetVehicle[] = []
  for (const hub of s.hubs) {
    for (const cred of credentialsOf(hub)) {
      if (s.maxVehicles !== undefined && out.length >= s.maxVehicles) return out
      const index = out.length
      const rng = new Rng(seed, index)
      const car = new Vehicle(
        { capacityKwh: rng.spread(s.battery.capacityKwh), soc: rng.spread(s.battery.soc), consumptionKwhPer100Km: rng.spread(s.battery.consumptionKwhPer100Km) },
        { lat: 0, lon: 0 },
      )
      const speed = rng.spread(s.driving.speedKmh)
      const booking = s.policy.booking
      const strategy = booking === 'mixed' ? (rng.next() < s.policy.tripShare ? 'trip' : 'nearest') : booking
      out.push(new FleetVehicle(index, cred, hub, car, speed, strategy, rng))
    }
  }
  return out
}

export async function runFleet(s: Scenario, opts: FleetRunOptions = {}): Promise<FleetResult> {
  const seed = opts.seed ?? s.seed ?? randomSeed()
  const vehicles = createFleet(s, seed)
  const counters = newCounters()
  const stats = new RequestStats()
  const realStart = Date.now()
  let simMs = 0
  const hubInfo = new Map<string, Promise<HubRuntime>>()
  const routes = new Map<string, Promise<Route>>()
  const ctx: FleetContext = {
    scenario: s,
    counters,
    simNowMs: () => simMs,
    wallNowMs: () => Date.now(),
    realNowMs: () => Date.now(),
    async request<O extends OpName>(v: FleetVehicle, op: O, args: OpArgsInput<O>): Promise<OpResult<O>> {
      if (!v.conn) throw new ConnectError('CONNECTION_LOST', `vehicle ${v.vehicleId} is not connected`)
      const t0 = performance.now()
      try {
        const r = await v.conn.rpc.request(op, args)
        stats.record(op, performance.now() - t0)
        return r
      } catch (err) {
        stats.record(op, performance.now() - t0, codeOf(err))
        throw err
      }
    },
    hub(v) {
      const id = v.hubEntry.hubId
      let p = hubInfo.get(id)
      if (!p) {
        p = ctx.request(v, 'hub.info', {}).then((i) => ({ hubId: i.hubId, position: i.position, peers: i.peers }))
        p.catch(() => hubInfo.delete(id))
        hubInfo.set(id, p)
      }
      return p
    },
    route(v, destination) {
      // Every car of a hub going to the same place shares one route.list answer.
      const key = `${v.hubEntry.hubId}>${destination}`
      let p = routes.get(key)
      if (!p) {
        p = ctx.request(v, 'route.list', { destination, index: 0 }).then((r) => r.route)
        p.catch(() => routes.delete(key))
        routes.set(key, p)
      }
      return p
    },
  }

  const connect =
    opts.connect ??
    ((v: FleetVehicle, _s: Scenario, hub: HubEntry) =>
      connectVehicle(
        {
          url: hub.url,
          hubId: hub.hubId,
          vehicleId: v.vehicleId,
          password: v.credential.password,
          mqttVersion: hub.mqttVersion,
          connectTimeoutMs: s.connect.timeoutMs,
          requestTimeoutMs: s.requestTimeoutMs,
          retries: s.requestRetries,
        },
        { reconnectPeriodMs: 2000 },
      ))

  // Connect with bounded concurrency; each car starts as soon as it is connected.
  const connecting = forEachLimit(vehicles, s.connect.concurrency, async (v) => {
    if (opts.signal?.aborted) {
      v.phase = 'offline'
      return
    }
    try {
      v.conn = await connect(v, s, v.hubEntry)
      counters.connected++
      void v.plan(ctx)
    } catch (err) {
      v.phase = 'offline'
      bump(counters.connectFailed, codeOf(err))
    }
  })

  const phases = (): Record<Phase, number> => {
    const p: Record<Phase, number> = { idle: 0, offline: 0, planning: 0, driving: 0, charging: 0, arrived: 0, stranded: 0 }
    for (const v of vehicles) p[v.phase]++
    return p
  }
  const progress = (): number => {
    const parts: number[] = []
    if (s.stop.simMinutes !== undefined) parts.push(simMs / (s.stop.simMinutes * 60_000))
    if (s.stop.realSeconds !== undefined) parts.push((Date.now() - realStart) / (s.stop.realSeconds * 1000))
    if (s.stop.whenAllDone) parts.push(vehicles.length ? vehicles.filter((v) => v.done).length / vehicles.length : 1)
    return Math.min(1, Math.max(0, ...parts))
  }
  const snapshot = (): FleetSnapshot => ({ realMs: Date.now() - realStart, simMs, total: vehicles.length, phases: phases(), counters, requests: stats.total, progress: progress() })

  let lastTick = performance.now()
  let lastProgress = 0
  const everyMs = opts.progressEveryMs ?? 1000
  for (;;) {
    await new Promise((r) => setTimeout(r, s.clock.tickMs))
    const now = performance.now()
    const dtSim = (now - lastTick) * s.clock.compression
    lastTick = now
    simMs += dtSim
    for (const v of vehicles) v.tick(ctx, dtSim)
    if (opts.onProgress && now - lastProgress >= everyMs) {
      lastProgress = now
      opts.onProgress(snapshot())
    }
    if (opts.signal?.aborted) break
    if (s.stop.simMinutes !== undefined && simMs >= s.stop.simMinutes * 60_000) break
    if (s.stop.realSeconds !== undefined && Date.now() - realStart >= s.stop.realSeconds * 1000) break
    if (s.stop.whenAllDone && vehicles.every((v) => v.done && !v.busy)) break
  }
  const stoppedBy = opts.signal?.aborted ? 'interrupted' : vehicles.every((v) => v.done) && s.stop.whenAllDone ? 'all-done' : 'time'
  const endSimMs = simMs
  const endRealMs = Date.now() - realStart
  const requestsDuringRun = stats.total

  await connecting
  // A request in flight may still be sent again (requestRetries), each copy waiting requestTimeoutMs.
  await settle(vehicles, s.requestTimeoutMs * (s.requestRetries + 1) + 1000)
  if (s.cleanup) await forEachLimit(vehicles, s.connect.concurrency, (v) => cleanup(ctx, v))
  await forEachLimit(vehicles, s.connect.concurrency, async (v) => {
    await v.conn?.close()
    v.conn = null
  })
  opts.onProgress?.(snapshot())
  const summary = buildSummary({ seed, scenario: s, vehicles: vehicles.length, phases: phases(), counters, stats, simMs: endSimMs, realMs: endRealMs, requestsDuringRun, stoppedBy })
  return { summary, vehicles }
}

async function cleanup(ctx: FleetContext, v: FleetVehicle): Promise<void> {
  if (!v.conn) return
  if (v.activeSessionId) await v.finishSession(ctx)
  const unused = v.unusedStops
  if (v.trip && unused.some((u) => u.trip)) {
    try {
      // The home hub coordinated the trip: it cancels every leg, at every hub.
      await ctx.request(v, 'trip.cancel', { tripId: v.trip.tripId })
      v.trip.cancelled = true
      for (const leg of v.trip.legs) leg.cancelled = true
      ctx.counters.trips.cancelled++
    } catch {
      // Counted in the request stats; the hub's holds and reservations expire on their own.
    }
  }
  for (const stop of unused.filter((u) => !u.trip)) {
    try {
      // reservation.create books at the home hub: the reservation is there.
      const r = await ctx.request(v, 'reservation.cancel', { reservationId: stop.reservationId })
      ctx.counters.reservations.cancelled += r.cancelled
      stop.cancelled = r.cancelled > 0
    } catch {
      // As above.
    }
  }
}

async function settle(vehicles: FleetVehicle[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (vehicles.some((v) => v.busy) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
}

