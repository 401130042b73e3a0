/** The end-of-run summary of a fleet: JSON for scripts, tables for people. */
import type { RequestStats, OpStats } from '../stats.js'
import { sortKeys } from '../stats.js'
import type { FleetCounters } from './counters.js'
import type { Phase } from './fleet-vehicle.js'
import type { Scenario } from './scenario.js'

export interface FleetSummary {
  scenario: string | null
  seed: number
  stoppedBy: 'all-done' | 'time' | 'interrupted'
  realSeconds: number
  simMinutes: number
  compression: number
  vehicles: { total: number; connected: number; connectFailed: Record<string, number>; arrived: number; stranded: number; phases: Record<Phase, number> }
  distanceKm: number
  // The same shapes the run counts with (./counters.ts), so the two cannot drift apart.
  trips: FleetCounters['trips']
  reservations: FleetCounters['reservations']
  charging: FleetCounters['charging']
  requests: { total: number; perSecond: number; errors: Record<string, number>; latency: { p50Ms: number; p99Ms: number; maxMs: number }; perOp: Record<string, OpStats> }
}

export interface SummaryInput {
  seed: number
  scenario: Scenario
  vehicles: number
  phases: Record<Phase, number>
  counters: FleetCounters
  stats: RequestStats
  simMs: number
  realMs: number
  requestsDuringRun: number
  stoppedBy: FleetSummary['stoppedBy']
}

export function buildSummary(i: SummaryInput): FleetSummary {
  const c = i.counters
  return {
    scenario: i.scenario.name ?? null,
    seed: i.seed,
    stoppedBy: i.stoppedBy,
    realSeconds: Math.round(i.realMs) / 1000,
    simMinutes: Math.round(i.simMs / 600) / 100,
    compression: i.scenario.clock.compression,
    vehicles: { total: i.vehicles, connected: c.connected, connectFailed: sortKeys(c.connectFailed), arrived: c.arrived, stranded: c.stranded, phases: i.phases },
    distanceKm: Math.round(c.distanceKm * 10) / 10,
    trips: { booked: c.trips.booked, failed: sortKeys(c.trips.failed), failedHopReasons: sortKeys(c.trips.failedHopReasons), cancelled: c.trips.cancelled },
    reservations: { booked: c.reservations.booked, failed: sortKeys(c.reservations.failed), cancelled: c.reservations.cancelled },
    charging: {
      ...c.charging,
      startFailed: sortKeys(c.charging.startFailed),
      stopFailed: sortKeys(c.charging.stopFailed),
      costMinor: sortKeys(c.charging.costMinor),
      perHub: sortKeys(c.charging.perHub),
      roaming: { ...c.charging.roaming },
    },
    requests: {
      total: i.stats.total,
      perSecond: i.realMs > 0 ? Math.round((i.requestsDuringRun / (i.realMs / 1000)) * 10) / 10 : 0,
      errors: i.stats.errorsByCode(),
      latency: i.stats.overall(),
      perOp: i.stats.perOp(),
    },
  }
}
