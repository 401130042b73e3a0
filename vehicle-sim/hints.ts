/** What a user can do about each error code: one short sentence per code. */
import type { SimErrorCode } from './errors.js'

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
  TIMEOUT: 'the hub did not answer in time; check --hub-id (the hub must be running) or raise --timeout-ms',
  INTERNAL: 'the hub hit an internal error; check the hub logs',
  IDEMPOTENCY_KEY_MISSING: 'a federation call lacked its Idempotency-Key; report this as a hub bug',
  IDEMPOTENCY_KEY_REUSED: 'a federation call reused an Idempotency-Key with another body; report this as a hub bug',
  IDEMPOTENCY_IN_PROGRESS: 'the same request is still running; retry in a moment',
  HOLD_EXPIRED: 'a hold expired before it was confirmed; retry the trip',
  METER_FAULT: 'the station meter reported a fault; the session was not billed; try another station',
  RATE_LIMITED: 'this vehicle has too many requests waiting at the hub; wait for their answers, then retry',
  BROKER_UNREACHABLE: 'nothing answers at --hub; check the URL and port and that the hub (or its broker) is running',
  CONNECT_TIMEOUT: 'the broker did not complete the MQTT handshake in time; check --hub, firewalls, or raise --connect-timeout-ms',
  CONNECTION_LOST: 'the broker closed the connection; check the hub logs (a second client with the same vehicle id kicks the first)',
}

export function hintFor(code: string): string | undefined {
  return Object.hasOwn(HINTS, code) ? HINTS[code as SimErrorCode] : undefined
}
