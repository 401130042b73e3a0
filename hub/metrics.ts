/**
 * Prometheus metrics of one hub, on its own registry (several hubs may run in
 * one process in tests and in `voltway demo`).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { RequestOutcome } from '../protocol/index.js'

export interface HubMetricsSources {
  stationsOnline: () => number
  stationsTotal: () => number
  /** Reservations stored and holds still live. */
  bookings: () => Promise<{ reservations: number; activeHolds: number }>
}

export class HubMetrics {
  readonly registry = new Registry()
  private readonly requests: Counter<'op' | 'outcome'>
  private readonly latency: Histogram<'op'>
  private readonly federation: Counter<'route' | 'status'>
  private readonly clockSkew: Gauge<'station'>
  private readonly peerCalls: Counter<'peer' | 'status'>
  private readonly peerLatency: Histogram<'peer'>

  /** `replica`: a const label on every series, so replicas of one hub scraped together stay apart. */
  constructor(hubId: string, sources: HubMetricsSources, opts: { replica?: string } = {}) {
    this.registry.setDefaultLabels(opts.replica === undefined ? { hub: hubId } : { hub: hubId, replica: opts.replica })
    this.requests = new Counter({
      name: 'voltway_requests_total',
      help: 'Vehicle requests answered, by op and outcome (ok or the error code)',
      labelNames: ['op', 'outcome'],
      registers: [this.registry],
    })
    this.latency = new Histogram({
      name: 'voltway_request_duration_seconds',
      help: 'Time from receiving a vehicle request to publishing its answer',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    })
    this.federation = new Counter({
      name: 'voltway_federation_requests_total',
      help: 'Federation API requests served, by route and HTTP status',
      labelNames: ['route', 'status'],
      registers: [this.registry],
    })
    this.peerCalls = new Counter({
      name: 'voltway_federation_client_requests_total',
      help: "Calls this hub made to each peer, by the peer's HTTP status (none: it never answered; 401: it refused our token)",
      labelNames: ['peer', 'status'],
      registers: [this.registry],
    })
    this.peerLatency = new Histogram({
      name: 'voltway_federation_client_request_duration_seconds',
      help: 'Time of each call this hub made to a peer, retries included',
      labelNames: ['peer'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    })
    this.clockSkew = new Gauge({
      name: 'voltway_station_clock_skew_seconds',
      help: "Last measured station clock minus hub clock at receipt, per station (positive: the station runs ahead; queued events show their age)",
      labelNames: ['station'],
      registers: [this.registry],
    })
    new Gauge({
      name: 'voltway_stations_online',
      help: 'Stations whose agent is connected',
      registers: [this.registry],
      collect() {
        this.set(sources.stationsOnline())
      },
    })
    new Gauge({
      name: 'voltway_stations',
      help: 'Stations in the registry',
      registers: [this.registry],
      collect() {
        this.set(sources.stationsTotal())
      },
    })
    new Gauge({
      name: 'voltway_reservations',
      help: 'Reservations stored',
      registers: [this.registry],
      async collect() {
        this.set((await sources.bookings()).reservations)
      },
    })
    new Gauge({
      name: 'voltway_holds_active',
      help: 'Federation holds neither confirmed nor expired',
      registers: [this.registry],
      async collect() {
        this.set((await sources.bookings()).activeHolds)
      },
    })
  }

  /** Feed from the request/response server. */
  onOutcome = (o: RequestOutcome): void => {
    const op = o.ok || o.code !== 'UNKNOWN_OP' ? o.op : 'unknown'
    this.requests.inc({ op, outcome: o.ok ? 'ok' : (o.code ?? 'error') })
    this.latency.observe({ op }, o.durationMs / 1000)
  }

  onFederationRequest(route: string, status: number): void {
    this.federation.inc({ route, status: String(status) })
  }

  /** Feed from the federation client (hub/federation/call-observer.ts). */
  /** One call of this hub to a peer (hub/federation/call-observer.ts reports them; the shape is restated so metrics depends on no room). */
  onPeerCall = (r: { hubId: string; status: number | null; durationMs: number }): void => {
    this.peerCalls.inc({ peer: r.hubId, status: r.status === null ? 'none' : String(r.status) })
    this.peerLatency.observe({ peer: r.hubId }, r.durationMs / 1000)
  }

  /** Feed from the station clock watch (hub/station-link/clock-skew.ts); only for stations in the registry. */
  onStationClockSkew = (stationId: string, skewSeconds: number): void => {
    this.clockSkew.set({ station: stationId }, skewSeconds)
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
