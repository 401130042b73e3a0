/** Human rendering of a fleet summary. */
import type { FleetSummary } from './fleet/summary.js'
import { hintFor } from './hints.js'
import { keyValues, kwh, money, table } from './output.js'

const counts = (o: Record<string, number>): string =>
  Object.entries(o)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none'

export function renderFleetSummary(s: FleetSummary): string {
  const ch = s.charging
  const cost = Object.entries(ch.costMinor).map(([cur, m]) => money(m, cur)).join(', ') || '0'
  const head = keyValues([
    ['scenario', s.scenario ?? '(unnamed)'],
    ['seed', s.seed],
    ['stopped', `${s.stoppedBy} after ${s.realSeconds} s real, ${s.simMinutes} min simulated (x${s.compression})`],
    ['vehicles', `${s.vehicles.total} total, ${s.vehicles.connected} connected, ${s.vehicles.arrived} arrived, ${s.vehicles.stranded} stranded`],
    ['connect failures', counts(s.vehicles.connectFailed)],
    ['distance', `${s.distanceKm} km`],
    ['trips', `${s.trips.booked} booked, failed: ${counts(s.trips.failed)}${Object.keys(s.trips.failedHopReasons).length ? ` (hop reasons: ${counts(s.trips.failedHopReasons)})` : ''}, ${s.trips.cancelled} cancelled at the end`],
    ['reservations', `${s.reservations.booked} booked, failed: ${counts(s.reservations.failed)}, ${s.reservations.cancelled} cancelled at the end`],
    ['charging', `${ch.sessions} sessions, start failed: ${counts(ch.startFailed)}, stop failed: ${counts(ch.stopFailed)}`],
    ['roaming', `${ch.roaming.sessions} sessions at other companies' stations through the home hub, ${kwh(ch.roaming.energyWh)}`],
    ['per hub', Object.entries(ch.perHub).map(([h, x]) => `${h} ${x.sessions} sessions ${kwh(x.energyWh)}`).join(', ') || 'none'],
    ['energy', `${kwh(ch.energyWh)} metered, ${kwh(ch.simulatedWh)} into simulated batteries`],
    ['money', cost],
    ['requests', `${s.requests.total} total, ${s.requests.perSecond}/s, errors: ${counts(s.requests.errors)}`],
    ['latency', `p50 ${s.requests.latency.p50Ms} ms, p99 ${s.requests.latency.p99Ms} ms, max ${s.requests.latency.maxMs} ms`],
  ])
  const ops = Object.entries(s.requests.perOp)
  const perOp = ops.length
    ? table(
        ['op', 'requests', 'ok', 'errors', 'p50 ms', 'p99 ms', 'max ms'],
        ops.map(([op, o]) => [op, o.count, o.ok, counts(o.errors), o.p50Ms, o.p99Ms, o.maxMs]),
      )
    : 'no requests'
  return `${head}\n${perOp}`
}

/**
 * One hint line per cause of the vehicles that could not connect, for stderr
 * (vehicle-sim/hints.ts, given where those settings live: the scenario file
 * and its hubs' urls). None when every vehicle connected.
 */
export function fleetConnectHints(s: FleetSummary, scenarioFile: string, urls: readonly string[]): string[] {
  return Object.entries(s.vehicles.connectFailed).map(([code, n]) => {
    const who = `${n} of ${s.vehicles.total} ${s.vehicles.total === 1 ? 'vehicle' : 'vehicles'} could not connect (${code})`
    const hint = hintFor(code, { scenario: scenarioFile, urls })
    return hint ? `hint: ${who}: ${hint}` : `hint: ${who}`
  })
}
