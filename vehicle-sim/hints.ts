/**
 * What a user can do about an error. One code can have several causes (a
 * TIMEOUT from the hub not answering, or from a station not answering the
 * hub): the error's details tell them apart, so the hint names the right one.
 * Causes are tried first, in order; each code then has a fallback.
 */
import type { SimErrorCode } from './errors.js'

type Details = Record<string, unknown>

interface CauseHint {
  code: SimErrorCode
  /** What in the details identifies this cause. */
  when: (d: Details) => boolean
  hint: (d: Details) => string
}

const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '?')
const has = (key: string) => (d: Details) => d[key] !== undefined

/** The fallback per code: its most common cause. */
export const HINTS: Record<SimErrorCode, string> = {
  BAD_REQUEST: 'the hub rejected the arguments; check the flags against `voltway vehicle <command> --help`',
  UNKNOWN_OP: 'this hub does not serve that op; is it an older hub version?',
  UNAUTHORIZED: 'check --vehicle and --password (or VOLTWAY_VEHICLE / VOLTWAY_PASSWORD); the vehicle must be listed in the hub config',
  FORBIDDEN: 'this vehicle may not do that; it can only act on its own reservations, trips and sessions',
  NOT_FOUND: 'no such id for this vehicle; list them with `voltway vehicle reservations` or `voltway vehicle history`',
  NO_STATION_AVAILABLE: 'no free station within range at that time; try a larger --range-km, another --at, or another position',
  RESERVATION_CONFLICT: 'the station is taken within the reservation window; pick another --at or another station',
  TOO_SOON: 'reservations must start at least the hub\'s lead time ahead (default 2 h); use a later --at / --depart',
  OUT_OF_RANGE: 'the station or next hop is farther than --range-km; charge first or raise the range',
  STATION_OFFLINE: 'the station agent is not connected to its hub; try another station or later',
  STATION_BUSY: 'the station is charging another vehicle; wait or pick another station',
  RESERVED_BY_OTHER: 'another vehicle holds a reservation at this station now; reserve it first or pick another one',
  PEER_UNAVAILABLE: 'a federated hub did not answer; retry later or choose a route through other hubs',
  ROUTE_FAILED: 'one hop could not be reserved and nothing was kept; see failedHop/reason, then try other times or another --index',
  TIMEOUT: "the hub did not answer in time: check that --hub-id is the hub's hubId and the hub is running, or raise --timeout-ms",
  INTERNAL: 'the hub hit an internal error; check the hub logs',
  IDEMPOTENCY_KEY_MISSING: 'a federation call lacked its Idempotency-Key; report this as a hub bug',
  IDEMPOTENCY_KEY_REUSED: 'a federation call reused an Idempotency-Key with another body; report this as a hub bug',
  IDEMPOTENCY_IN_PROGRESS: 'the same request is still running; retry in a moment',
  HOLD_EXPIRED: 'a hold expired before it was confirmed; retry the trip',
  METER_FAULT: 'the station meter reported a fault; the session was not billed; try another station',
  STORAGE_UNAVAILABLE: 'the hub cannot write to its database now; nothing was changed; retry later (operator: check the hub\'s disk)',
  RATE_LIMITED: 'this vehicle has too many requests waiting at the hub; wait for their answers, then retry',
  ACCOUNT_EXISTS: 'an account with this id already exists at the hub; pick another id',
  ENROLLMENT_REFUSED: 'the enrollment code was refused (unknown, used or expired); ask the hub operator for a new one',
  BROKER_UNREACHABLE: 'nothing answers at --hub; check the URL and port and that the hub (or its broker) is running',
  CONNECT_TIMEOUT: 'the broker did not complete the MQTT handshake in time; check --hub, firewalls, or raise --connect-timeout-ms',
  CONNECTION_LOST: 'the broker closed the connection; check the hub logs (on Mosquitto, where the client id is the login, a second client of the same vehicle replaces the first)',
}

export const CAUSE_HINTS: readonly CauseHint[] = [
  {
    code: 'NOT_FOUND',
    when: (d) => Array.isArray(d.knownHubs),
    hint: (d) => {
      const known = (d.knownHubs as unknown[]).map(str)
      if (known.length === 0) return 'this hub has no federation links, so it has no routes to other hubs'
      return `${d.didYouMean !== undefined ? `did you mean ${str(d.didYouMean)}? ` : ''}--to takes one of the hubs this hub routes to: ${known.join(', ')}`
    },
  },
  { code: 'NOT_FOUND', when: (d) => typeof d.total === 'number', hint: (d) => (d.total === 1 ? 'there is 1 route; pass --index 0' : `there are ${str(d.total)} routes; pass --index 0 to ${str(Number(d.total) - 1)}`) },
  { code: 'NOT_FOUND', when: has('routeId'), hint: () => 'route ids come from `voltway vehicle routes --to <hub>`; list the routes again and use one of those ids' },
  { code: 'NOT_FOUND', when: has('tripId'), hint: () => 'no such trip for this vehicle at this hub; use the trip id `voltway vehicle trip` printed, with the --hub-id it booked at' },
  { code: 'NOT_FOUND', when: has('reservationId'), hint: () => 'no such reservation for this vehicle; list them with `voltway vehicle reservations`' },
  { code: 'NOT_FOUND', when: has('stationId'), hint: () => 'no such station at this hub; list them with `voltway vehicle stations`' },
  {
    code: 'TIMEOUT',
    when: has('stationId'),
    hint: (d) => `station ${str(d.stationId)} did not answer its hub: its agent may be offline, restarting or slow; try again in a moment or pick another station`,
  },
  {
    code: 'ROUTE_FAILED',
    when: (d) => typeof d.reason === 'string' && d.reason !== 'ROUTE_FAILED' && Object.hasOwn(HINTS, d.reason),
    hint: (d) => `nothing was kept; hop ${str(d.failedHop)} at ${str(d.hubId)} failed with ${str(d.reason)}: ${HINTS[d.reason as SimErrorCode]}`,
  },
]

/** The hint for an error with this code and these details, or undefined for a code the simulator does not know. */
export function hintFor(code: string, details: Details = {}): string | undefined {
  const cause = CAUSE_HINTS.find((c) => c.code === code && c.when(details))
  if (cause) return cause.hint(details)
  return Object.hasOwn(HINTS, code) ? HINTS[code as SimErrorCode] : undefined
}
