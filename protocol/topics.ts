/**
 * MQTT topic builders and parsers for every topic of docs/protocol.md.
 * Parsers return `null` for anything that is not exactly one of our topics,
 * so a caller never has to guess from a half-matching string.
 */
import { ID_PATTERN } from './ids.js'

export const TOPIC_ROOT = 'voltway/v1'

/** `auth` and `auth/res` (cards at the charger) are additions. */
export type StationTopicKind = 'state' | 'telemetry' | 'events' | 'ack' | 'cmd' | 'cmd/res' | 'auth' | 'auth/res'
export const STATION_TOPIC_KINDS: readonly StationTopicKind[] = ['state', 'telemetry', 'events', 'ack', 'cmd', 'cmd/res', 'auth', 'auth/res']

export const topics = {
  /** A vehicle's request to a hub: `voltway/v1/hubs/H/req/V`. */
  hubRequest: (hubId: string, vehicleId: string) => `${TOPIC_ROOT}/hubs/${hubId}/req/${vehicleId}`,
  /** What a hub subscribes to for all its vehicles' requests. */
  hubRequestFilter: (hubId: string) => `${TOPIC_ROOT}/hubs/${hubId}/req/+`,
  /** A hub's retained state (vehicles may read it). */
  hubState: (hubId: string) => `${TOPIC_ROOT}/hubs/${hubId}/state`,
  /** Hub-internal: a stopping replica of hub H asks whether another runs (hub/station-link/hub-presence.ts). */
  hubReplicaProbe: (hubId: string) => `${TOPIC_ROOT}/hubs/${hubId}/replicas/probe`,
  /** Hub-internal: a running replica's answer to a probe. */
  hubReplicaAlive: (hubId: string) => `${TOPIC_ROOT}/hubs/${hubId}/replicas/alive`,
  /** Default reply topic for vehicle `V`. */
  vehicleResponse: (vehicleId: string) => `${TOPIC_ROOT}/vehicles/${vehicleId}/res`,
  /** Every topic a vehicle may read of its own. */
  vehicleNamespace: (vehicleId: string) => `${TOPIC_ROOT}/vehicles/${vehicleId}/`,
  station: (stationId: string, kind: StationTopicKind) => `${TOPIC_ROOT}/stations/${stationId}/${kind}`,
  /** What a hub subscribes to for one station-originated kind across all stations. */
  stationFilter: (kind: StationTopicKind) => `${TOPIC_ROOT}/stations/+/${kind}`,
} as const

function isId(s: string | undefined): s is string {
  return s !== undefined && ID_PATTERN.test(s)
}

/** `voltway/v1/hubs/H/req/V` -> `{hubId, vehicleId}`. */
export function parseHubRequestTopic(topic: string): { hubId: string; vehicleId: string } | null {
  const p = topic.split('/')
  if (p.length !== 6 || p[0] !== 'voltway' || p[1] !== 'v1' || p[2] !== 'hubs' || p[4] !== 'req') return null
  if (!isId(p[3]) || !isId(p[5])) return null
  return { hubId: p[3], vehicleId: p[5] }
}

/** `voltway/v1/stations/S/<kind>` -> `{stationId, kind}`. */
export function parseStationTopic(topic: string): { stationId: string; kind: StationTopicKind } | null {
  const p = topic.split('/')
  if (p.length < 5 || p.length > 6 || p[0] !== 'voltway' || p[1] !== 'v1' || p[2] !== 'stations') return null
  if (!isId(p[3])) return null
  const kind = p.slice(4).join('/') as StationTopicKind
  if (!STATION_TOPIC_KINDS.includes(kind)) return null
  return { stationId: p[3], kind }
}

/** `voltway/v1/vehicles/V/...` -> `{vehicleId, rest}`. */
export function parseVehicleTopic(topic: string): { vehicleId: string; rest: string } | null {
  const p = topic.split('/')
  if (p.length < 5 || p[0] !== 'voltway' || p[1] !== 'v1' || p[2] !== 'vehicles' || !isId(p[3])) return null
  return { vehicleId: p[3], rest: p.slice(4).join('/') }
}

/** `voltway/v1/hubs/H/state` -> `{hubId}`. */
export function parseHubStateTopic(topic: string): { hubId: string } | null {
  const p = topic.split('/')
  if (p.length !== 5 || p[0] !== 'voltway' || p[1] !== 'v1' || p[2] !== 'hubs' || p[4] !== 'state' || !isId(p[3])) return null
  return { hubId: p[3] }
}

/**
 * True when `topic` is a concrete topic (no wildcards) inside vehicle V's own
 * namespace. The request server uses it to decide whether an MQTT 5 Response
 * Topic may be honoured [MQTT-4.7.1, MQTT 5 §4.10].
 */
export function isInVehicleNamespace(topic: string, vehicleId: string): boolean {
  if (topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) return false
  const prefix = topics.vehicleNamespace(vehicleId)
  if (!topic.startsWith(prefix) || topic.length === prefix.length) return false
  return !topic.split('/').some((level) => level === '' || level === '..')
}
