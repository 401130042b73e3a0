/**
 * One simulated car of a fleet: a small state machine advanced by the
 * engine's clock ticks. It never blocks the tick: while a request is in
 * flight (`busy`) the car waits where it is.
 *
 * A car keeps one connection, to its home hub's broker, and talks only to its
 * home hub. At a booked stop at another company's station it charges through
 * its home hub (roaming, docs/protocol.md "Roaming"): `charge.start` names the
 * station's hub, and `charge.status` / `charge.stop` of that session go to
 * the home hub as usual, which calls the peer. The other company never sees
 * the car's credentials.
 *
 *   planning -> driving <-> charging -> arrived
 *                  \-> stranded (battery flat)
 */
import { formatTime, type OpArgsInput, type OpName, type OpResult, type Position, type Route } from '../../protocol/index.js'
import type { VehicleConnection } from '../connect.js'
import { codeOf } from '../errors.js'
import { distanceKm, hopTimes, interpolate } from '../geo.js'
import { bump } from '../stats.js'
import { Vehicle } from '../vehicle-model.js'
import type { FleetCounters } from './counters.js'
import type { Rng } from './rng.js'
import type { Credential, HubEntry, Scenario } from './scenario.js'

export type Phase = 'idle' | 'offline' | 'planning' | 'driving' | 'charging' | 'arrived' | 'stranded'
export const TERMINAL: ReadonlySet<Phase> = new Set(['offline', 'arrived', 'stranded'])

export interface Stop {
  hubId: string
  stationId: string
  reservationId: string
  /** Part of the trip (cancelled with trip.cancel) rather than a single reservation. */
  trip: boolean
  /** Cancelled at the hub by this vehicle (trip.cancel or reservation.cancel succeeded). */
  cancelled: boolean
}

interface Waypoint {
  position: Position
  stop?: Stop
}

interface ActiveSession {
  sessionId: string
  hubId: string
  startedRealMs: number
  lastPollMs: number
  polling: boolean
  powerKw: number
  stationStopped: boolean
}

export interface HubRuntime {
  hubId: string
  position: Position
  peers: string[]
}

/** What a vehicle needs from the engine. */
export interface FleetContext {
  readonly scenario: Scenario
  readonly counters: FleetCounters
  simNowMs(): number
  /** The hubs' wall clock: reservation times are absolute. */
  wallNowMs(): number
  realNowMs(): number
  hub(v: FleetVehicle): Promise<HubRuntime>
  route(v: FleetVehicle, destination: string): Promise<Route>
  /** One request to the vehicle's home hub, over its one connection. */
  request<O extends OpName>(v: FleetVehicle, op: O, args: OpArgsInput<O>): Promise<OpResult<O>>
}

/** A booked trip as the hub answered it; `cancelled` once trip.cancel succeeded. */
export interface BookedTrip {
  tripId: string
  legs: readonly Stop[]
  cancelled: boolean
}

export class FleetVehicle {
  /** The one connection, to the home hub's broker. */
  conn: VehicleConnection | null = null
  phase: Phase = 'idle'
  busy = false
  destination: string | null = null
  trip: BookedTrip | null = null
  startPosition: Position | null = null
  journeys = 0
  private path: Waypoint[] = []
  private wp = 0
  private hops: Position[] = []
  private session: ActiveSession | null = null
  private retryAtSimMs = 0
  private unused: Stop[] = []
  /** Every reservation this car made (trip legs and nearest-station bookings), for checks after a run. */
  readonly bookings: Stop[] = []

  constructor(
    readonly index: number,
    readonly credential: Credential,
    readonly hubEntry: HubEntry,
    readonly car: Vehicle,
    readonly speedKmh: number,
    readonly strategy: 'trip' | 'nearest',
    readonly rng: Rng,
  ) {}

  get vehicleId(): string {
    return this.credential.vehicleId
  }

  get done(): boolean {
    return TERMINAL.has(this.phase)
  }

  /** Bookings not used yet (for cleanup). */
  get unusedStops(): readonly Stop[] {
    return this.unused
  }

  get activeSessionId(): string | null {
    return this.session?.sessionId ?? null
  }

  get activeSessionHub(): string | null {
    return this.session?.hubId ?? null
  }

  clearSession(): void {
    this.session = null
  }

  /** Pick a start position and destination, find the route, and book the trip when this car books trips. */
  async plan(ctx: FleetContext): Promise<void> {
    this.phase = 'planning'
    await this.run(async () => {
      const hub = await ctx.hub(this)
      const area = this.hubEntry.start ?? ctx.scenario.start
      const start = area.positions
        ? (area.positions[this.index % area.positions.length] as Position)
        : this.rng.pointAround(area.center ?? hub.position, area.radiusKm)
      this.car.position = start
      this.startPosition = start
      const candidates = (this.hubEntry.destinations ?? ctx.scenario.destinations ?? hub.peers).filter((d) => d !== hub.hubId)
      if (candidates.length === 0) {
        this.phase = 'arrived'
        ctx.counters.arrived++
        return
      }
      this.destination = this.rng.pick(candidates)
      const route = await ctx.route(this, this.destination)
      this.hops = route.hops.map((h) => h.position)
      this.path = this.hops.map((position) => ({ position }))
      this.wp = 0
      if (this.strategy === 'trip') await this.bookTrip(ctx, route)
      this.phase = 'driving'
    }, () => {
      // No route: count as stranded at the start rather than crash the fleet.
      this.phase = 'stranded'
      ctx.counters.stranded++
    })
  }

  private async bookTrip(ctx: FleetContext, route: Route): Promise<void> {
    const lead = ctx.scenario.policy.leadMinutes * 60_000
    const times = hopTimes(this.car.position, this.hops, ctx.wallNowMs() + lead, this.speedKmh, route.distanceKm).map(formatTime)
    try {
      const { trip } = await ctx.request(this, 'route.reserve', { routeId: route.routeId, times, ...this.car.requestFields() })
      ctx.counters.trips.booked++
      const legs: Stop[] = []
      this.path = trip.legs.map((l) => {
        const stop: Stop = { hubId: l.hubId, stationId: l.stationId, reservationId: l.reservationId, trip: true, cancelled: false }
        legs.push(stop)
        this.bookings.push(stop)
        this.unused.push(stop)
        return { position: l.position, stop }
      })
      this.trip = { tripId: trip.tripId, legs, cancelled: false }
      const last = this.hops[this.hops.length - 1]
      if (last) this.path.push({ position: last })
    } catch (err) {
      const code = codeOf(err)
      bump(ctx.counters.trips.failed, code)
      const reason = (err as { details?: { reason?: unknown } }).details?.reason
      if (code === 'ROUTE_FAILED' && typeof reason === 'string') bump(ctx.counters.trips.failedHopReasons, reason)
    }
  }

  /** Advance by `dtMs` of simulated time. */
  tick(ctx: FleetContext, dtMs: number): void {
    if (this.busy) return
    if (this.phase === 'driving') this.drive(ctx, dtMs)
    else if (this.phase === 'charging') this.chargeTick(ctx, dtMs)
  }

  private drive(ctx: FleetContext, dtMs: number): void {
    let budget = (this.speedKmh * dtMs) / 3_600_000
    while (budget > 0 && this.wp < this.path.length) {
      const target = this.path[this.wp] as Waypoint
      const d = distanceKm(this.car.position, target.position)
      const step = Math.min(budget, d)
      const to = step >= d ? target.position : interpolate(this.car.position, target.position, step / d)
      const driven = this.car.drive(step, to)
      if (driven < step) this.car.position = interpolate(this.car.position, target.position, driven / Math.max(d, 1e-9))
      ctx.counters.distanceKm += driven
      if (this.car.empty) {
        this.phase = 'stranded'
        ctx.counters.stranded++
        return
      }
      budget -= step
      if (step < d) break
      this.wp++
      if (target.stop) {
        if (this.car.soc < ctx.scenario.policy.targetSoc) {
          this.startCharge(ctx, target.stop)
          return
        }
      }
    }
    if (this.wp >= this.path.length) return this.arrive(ctx)
    if (this.car.soc < ctx.scenario.policy.lowSoc && ctx.simNowMs() >= this.retryAtSimMs && !this.stopWithinRange()) this.bookNearest(ctx)
  }

  private stopWithinRange(): boolean {
    let km = 0
    let from = this.car.position
    const range = this.car.rangeKm
    for (let i = this.wp; i < this.path.length && km <= range; i++) {
      const w = this.path[i] as Waypoint
      km += distanceKm(from, w.position)
      if (w.stop && km <= range) return true
      from = w.position
    }
    return false
  }

  private bookNearest(ctx: FleetContext): void {
    const at = formatTime(ctx.wallNowMs() + ctx.scenario.policy.leadMinutes * 60_000)
    void this.run(
      async () => {
        const { reservation: r } = await ctx.request(this, 'reservation.create', { at, ...this.car.requestFields() })
        ctx.counters.reservations.booked++
        const stop: Stop = { hubId: r.hubId, stationId: r.stationId, reservationId: r.reservationId, trip: false, cancelled: false }
        this.bookings.push(stop)
        this.unused.push(stop)
        this.path.splice(this.wp, 0, { position: r.position, stop })
      },
      (err) => {
        bump(ctx.counters.reservations.failed, codeOf(err))
        this.retryAtSimMs = ctx.simNowMs() + ctx.scenario.policy.retryMinutes * 60_000
      },
    )
  }

  private startCharge(ctx: FleetContext, stop: Stop): void {
    this.unused = this.unused.filter((s) => s !== stop)
    this.phase = 'charging'
    // Another company's station: the home hub starts it at that peer (roaming).
    const at = stop.hubId === this.hubEntry.hubId ? {} : { hubId: stop.hubId }
    void this.run(
      async () => {
        const { session } = await ctx.request(this, 'charge.start', { stationId: stop.stationId, reservationId: stop.reservationId, ...at })
        const now = ctx.realNowMs()
        this.session = { sessionId: session.sessionId, hubId: stop.hubId, startedRealMs: now, lastPollMs: now, polling: false, powerKw: ctx.scenario.charging.assumedPowerKw, stationStopped: false }
      },
      async (err) => {
        bump(ctx.counters.charging.startFailed, codeOf(err))
        this.phase = 'driving'
        this.retryAtSimMs = ctx.simNowMs() + ctx.scenario.policy.retryMinutes * 60_000
      },
    )
  }

  private chargeTick(ctx: FleetContext, dtMs: number): void {
    const s = this.session
    if (!s) return
    const stored = this.car.charge((s.powerKw * dtMs) / 3_600_000)
    ctx.counters.charging.simulatedWh += Math.round(stored * 1000)
    const now = ctx.realNowMs()
    const c = ctx.scenario.charging
    if (this.car.soc >= ctx.scenario.policy.targetSoc || now - s.startedRealMs >= c.maxRealSeconds * 1000 || s.stationStopped) {
      this.stopCharge(ctx)
      return
    }
    if (!s.polling && now - s.lastPollMs >= c.statusIntervalMs) {
      s.polling = true
      s.lastPollMs = now
      ctx
        .request(this, 'charge.status', { sessionId: s.sessionId })
        .then(({ session }) => {
          if (session.powerW > 0) s.powerKw = session.powerW / 1000
          if (session.state === 'stopped') s.stationStopped = true
        })
        .catch(() => undefined)
        .finally(() => (s.polling = false))
    }
  }

  /** charge.stop and count the receipt; used by the tick and by the final cleanup. */
  async finishSession(ctx: FleetContext): Promise<void> {
    const s = this.session
    if (!s) return
    try {
      const { receipt } = await ctx.request(this, 'charge.stop', { sessionId: s.sessionId })
      const c = ctx.counters.charging
      c.sessions++
      c.energyWh += receipt.energyWh
      bump(c.costMinor, receipt.currency, receipt.costMinor)
      const hub = (c.perHub[s.hubId] ??= { sessions: 0, energyWh: 0 })
      hub.sessions++
      hub.energyWh += receipt.energyWh
      if (s.hubId !== this.hubEntry.hubId) {
        c.roaming.sessions++
        c.roaming.energyWh += receipt.energyWh
      }
    } catch (err) {
      bump(ctx.counters.charging.stopFailed, codeOf(err))
    } finally {
      this.session = null
    }
  }

  private stopCharge(ctx: FleetContext): void {
    void this.run(async () => {
      await this.finishSession(ctx)
      if (this.phase === 'charging') this.phase = 'driving'
    })
  }

  private arrive(ctx: FleetContext): void {
    this.journeys++
    if (this.journeys < ctx.scenario.driving.journeys && this.hops.length > 0) {
      // Back the way we came; the route ids of route.list start at the home hub, so the way back books as it goes.
      this.hops = [...this.hops].reverse()
      this.path = this.hops.map((position) => ({ position }))
      this.wp = 0
      return
    }
    this.phase = 'arrived'
    ctx.counters.arrived++
  }

  /** Run one async step with `busy` set; failures go to `onError` (never unhandled). */
  private async run(fn: () => Promise<void>, onError?: (err: unknown) => void | Promise<void>): Promise<void> {
    this.busy = true
    try {
      await fn()
    } catch (err) {
      await onError?.(err)
    } finally {
      this.busy = false
    }
  }
}
