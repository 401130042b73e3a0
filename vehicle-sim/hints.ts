/**
 * What a user can do about an error. One code can have several causes (a
 * TIMEOUT from the hub not answering, or from a station not answering the
 * hub): the error's details tell them apart, so the hint names the right one.
 * Causes are tried first, in order; each code then has a fallback.
 */
import { isMutatingOp, type MutatingOp } from '../protocol/index.js'
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
const reason = (r: string) => (d: Details) => d.reason === r
/** Where a vehicle sees what a mutating op did (trip.list, reservation.list, history.list). */
const LOOK: Record<MutatingOp, string> = {
  'reservation.create': '`voltway vehicle reservations`',
  'reservation.cancel': '`voltway vehicle reservations`',
  'route.reserve': '`voltway vehicle trips`',
  'trip.cancel': '`voltway vehicle trips`',
  'charge.start': '`voltway vehicle history` (and look at the station)',
  'charge.stop': '`voltway vehicle history`',
}
/** The CLI's wait (--timeout-ms) was shorter than the op's default one. */
const cutShort = (d: Details): boolean => typeof d.timeoutMs === 'number' && typeof d.defaultTimeoutMs === 'number' && d.timeoutMs < d.defaultTimeoutMs
const tookLonger = (d: Details): string =>
  `${str(d.op)} can take longer than --timeout-ms ${str(d.timeoutMs)} (its default is ${str(d.defaultTimeoutMs)} ms, past the hub's own deadline)`
/** How long the CLI waited in all: each copy of a request waits timeoutMs (protocol/rpc-client.ts). */
const waitedInAll = (d: Details): string =>
  typeof d.tries === 'number' && d.tries > 1 && typeof d.timeoutMs === 'number'
    ? `${d.tries * d.timeoutMs} ms in all (${d.tries} copies, ${d.timeoutMs} ms each)`
    : `${str(d.timeoutMs)} ms`
/** A vehicle's request to a hub id nobody serves on this broker is simply never answered. */
const WRONG_HUB_ID = "a wrong --hub-id (a hub that does not exist on this broker) gives exactly this: check that --hub-id is the hub's hubId (its log prints it at start)"
const NOT_BILLED = 'you were not charged for it; try another station (operator: check its meter with `voltway station check`)'
/** How a vehicle at its booking limit makes room. */
const FREE_A_PLACE = 'cancel a reservation (`voltway vehicle reservations`, then `voltway vehicle cancel <reservationId>`) or a trip (`voltway vehicle trips`, then `trip-cancel <tripId>`), or wait until one has passed'
/** The details of the refusal at a trip's failed hop (ROUTE_FAILED `reasonDetails`). */
const hopDetails = (d: Details): Details => (typeof d.reasonDetails === 'object' && d.reasonDetails !== null ? (d.reasonDetails as Details) : {})

/** The fallback per code: its most common cause. */
export const HINTS: Record<SimErrorCode, string> = {
  BAD_REQUEST: 'the hub rejected the arguments; check the flags against `voltway vehicle <command> --help`',
  UNKNOWN_OP: 'this hub does not serve that op; is it an older hub version?',
  UNAUTHORIZED:
    'check --vehicle and --password (or VOLTWAY_VEHICLE / VOLTWAY_PASSWORD); the hub\'s operator can check that the account exists (`voltway hub vehicle list`) and, on an external Mosquitto, that Mosquitto\'s files have it (docs/operator-guide.md, "Accounts and an external Mosquitto")',
  FORBIDDEN: 'this vehicle may not do that; it can only act on its own reservations, trips and sessions',
  NOT_FOUND: 'no such id for this vehicle; list them with `voltway vehicle reservations` or `voltway vehicle history`',
  NO_STATION_AVAILABLE: 'no free station within range at that time; try a larger --range-km, another --at, or another position',
  RESERVATION_CONFLICT: 'the station is taken within the reservation window; pick another --at or another station',
  TOO_SOON: 'reservations must start at least the hub\'s lead time ahead (default 2 h); use a later --at / --depart',
  TOO_FAR_AHEAD: 'the hub takes bookings only up to its horizon ahead (hub.json rules.maxAdvanceDays); book an earlier time (--at for a reservation, --depart or --times for a trip)',
  RESERVATION_LIMIT: `this vehicle has as many live bookings at that hub as it may (hub.json rules.maxReservationsPerVehicle); ${FREE_A_PLACE}`,
  OUT_OF_RANGE: 'the station or next hop is farther than --range-km; charge first or raise the range',
  STATION_OFFLINE: 'the station agent is not connected to its hub; try another station or later',
  STATION_BUSY: 'the station is charging another vehicle; wait or pick another station',
  RESERVED_BY_OTHER: 'another vehicle holds a reservation at this station now; reserve it first or pick another one',
  PEER_UNAVAILABLE: 'a federated hub did not answer; retry later or choose a route through other hubs',
  ROUTE_FAILED: 'one hop could not be reserved and nothing was kept; see failedHop/reason, then try other times or another --index',
  TIMEOUT: `no answer came in time; ${WRONG_HUB_ID}; otherwise retry once, and if it persists check that the hub is running`,
  INTERNAL: 'the hub hit an internal error; check the hub logs',
  IDEMPOTENCY_KEY_MISSING: 'a federation call lacked its Idempotency-Key; report this as a hub bug',
  IDEMPOTENCY_KEY_REUSED: 'a federation call reused an Idempotency-Key with another body; report this as a hub bug',
  IDEMPOTENCY_IN_PROGRESS: 'the same request (same request id) is still running at the hub; in a moment, see what it did (`voltway vehicle reservations`, `trips` or `history`) before trying again: a new try is a new request',
  HOLD_EXPIRED: 'a hold expired before it was confirmed; retry the trip',
  METER_FAULT: "the session could not be billed from the station's meter readings, so nobody was billed; try another station",
  STORAGE_UNAVAILABLE: 'the hub cannot write to its database now; nothing was changed; retry later (operator: check the hub\'s disk)',
  RATE_LIMITED: 'this vehicle has too many requests waiting at the hub; wait for their answers, then retry',
  ANSWER_TOO_LARGE: 'the answer is larger than the hub\'s MQTT broker takes from the hub; the request itself is fine: tell the hub\'s operator (raise or remove Mosquitto\'s max_packet_size), then retry',
  CARD_UNKNOWN: 'the RFID card is not registered with this company; use a registered card or start from the vehicle (charge)',
  ACCOUNT_EXISTS: 'an account with this id already exists at the hub; pick another id',
  ENROLLMENT_REFUSED: 'the enrollment code was refused (unknown, used or expired); ask the hub operator for a new one',
  PAYLOAD_TOO_LARGE: 'a hub refused an HTTP body over its size limit; report this as a hub bug',
  UNSUPPORTED_MEDIA_TYPE: 'a hub refused an HTTP body that was not sent as JSON; report this as a hub bug',
  REQUEST_TIMEOUT: 'a hub did not receive an HTTP request of another hub in time; retry, and if it persists ask the hub operators to check the network between the hubs',
  HEADERS_TOO_LARGE: 'a hub refused HTTP headers over its size limit; report this as a hub bug',
  BROKER_UNREACHABLE: 'nothing answers at --hub; check the URL and port and that the hub (or its broker) is running',
  CONNECT_TIMEOUT: 'the broker did not complete the MQTT handshake in time; check --hub, firewalls, or raise --connect-timeout-ms',
  CONNECTION_LOST: 'the broker closed the connection; check the hub logs (on Mosquitto, where the client id is the login, a second client of the same vehicle replaces the first)',
}

/** A fleet's connection failures: the settings are in its scenario file (details.scenario, details.urls), not in flags. */
const inScenario = (d: Details): string => `scenario ${str(d.scenario)}`
const urlsOf = (d: Details): string => (Array.isArray(d.urls) ? d.urls.map(str).join(', ') : '?')

export const CAUSE_HINTS: readonly CauseHint[] = [
  {
    code: 'UNAUTHORIZED',
    when: has('scenario'),
    hint: (d) => `the hub refused the vehicle's login: check the vehicle ids and passwords in ${inScenario(d)} (hubs[].vehicles); each vehicle must be listed in its hub's config`,
  },
  {
    code: 'BROKER_UNREACHABLE',
    when: has('scenario'),
    hint: (d) => `nothing answers at ${urlsOf(d)}: check hubs[].url (host and port) in ${inScenario(d)} and that the hub (or its broker) is running`,
  },
  {
    code: 'BROKER_UNREACHABLE',
    when: has('notMqtt'),
    hint: () => "something answers at --hub, but it is not an MQTT broker: is it the hub's HTTP port? give the broker's port (hub.json mqtt.listen.port, or the port of mqtt.url)",
  },
  {
    code: 'CONNECT_TIMEOUT',
    when: has('scenario'),
    hint: (d) => `the broker at ${urlsOf(d)} did not complete the MQTT handshake in time: check hubs[].url in ${inScenario(d)}, firewalls, or raise connect.timeoutMs there`,
  },
  // A vehicle's request id is its idempotency key (docs/protocol.md, "Repeated requests").
  { code: 'IDEMPOTENCY_KEY_REUSED', when: has('id'), hint: (d) => `request id ${str(d.id)} was already used for another request within 24 h; send each new request with a new id (the CLI does) and repeat only a request whose answer was lost, unchanged` },
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
  {
    code: 'NOT_FOUND',
    when: (d) => has('stationId')(d) && d.atHomeHub === true,
    hint: () => "no such station at your home hub (`voltway vehicle stations` lists its own); another company's station takes --station-hub <its hub id>, and your home hub starts the session there",
  },
  { code: 'NOT_FOUND', when: has('stationId'), hint: () => 'no such station at this hub; list them with `voltway vehicle stations`' },
  {
    code: 'NOT_FOUND',
    when: (d) => Array.isArray(d.peers),
    hint: (d) => {
      const peers = (d.peers as unknown[]).map(str)
      return peers.length === 0 ? 'your home hub has no federation peers, so it charges only at its own stations' : `--station-hub takes one of your home hub's peers: ${peers.join(', ')}`
    },
  },
  {
    // A change that got no answer may have happened all the same (its answer lost on the way back, or
    // the wait cut short): look before doing it again, since a new try is a new request.
    code: 'TIMEOUT',
    when: (d) => isMutatingOp(d.op) && d.hubId !== undefined,
    hint: (d) => {
      const sent = typeof d.tries === 'number' && d.tries > 1 ? `, sent ${str(d.tries)} times with request id ${str(d.id)}` : ''
      const look =
        typeof d.repeat === 'string'
          ? `no answer to ${str(d.op)} from hub ${str(d.hubId)}${sent}; it may have been done all the same: send it again unchanged, which the hub acts on once, with the same command and ${d.repeat} (or run ${LOOK[d.op as MutatingOp]} to see what this vehicle has: a try with a new request id is a new request)`
          : `no answer to ${str(d.op)} from hub ${str(d.hubId)}${sent}; it may have been done all the same: run ${LOOK[d.op as MutatingOp]} to see what this vehicle has before trying again (a new try is a new request)`
      return cutShort(d)
        ? `${look}; ${tookLonger(d)}, so leave --timeout-ms out next time`
        : `${look}; if the hub never answers: ${WRONG_HUB_ID}, and that the hub is running`
    },
  },
  {
    // A wait cut short with no answer at all: the hub may still have been working, or no hub serves that id.
    code: 'TIMEOUT',
    when: (d) => cutShort(d) && d.hubId !== undefined,
    hint: (d) => `hub ${str(d.hubId)} did not answer within ${waitedInAll(d)}: ${WRONG_HUB_ID}; else ${tookLonger(d)}: retry without --timeout-ms to see the hub's answer`,
  },
  {
    // The CLI cut its wait shorter than the op's default: the hub may still have been working.
    code: 'TIMEOUT',
    when: cutShort,
    hint: (d) => `${tookLonger(d)}; retry without --timeout-ms to see the hub's answer`,
  },
  {
    // A wait as long as the default: the hub answers every request before that, with an error if need be.
    code: 'TIMEOUT',
    when: (d) => typeof d.timeoutMs === 'number' && d.hubId !== undefined,
    hint: (d) =>
      `hub ${str(d.hubId)} did not answer at all within ${waitedInAll(d)}: ${WRONG_HUB_ID}, and that the hub is running and connected to this broker`,
  },
  {
    code: 'TIMEOUT',
    when: has('stationId'),
    hint: (d) => `station ${str(d.stationId)} did not answer its hub: its agent may be offline, restarting or slow; try again in a moment or pick another station`,
  },
  {
    code: 'METER_FAULT',
    when: reason('METER_MISSING_START'),
    hint: () => `the station reported no meter reading when the session started, so the hub stopped the session: ${NOT_BILLED}`,
  },
  {
    code: 'METER_FAULT',
    when: reason('METER_MISSING_STOP'),
    hint: () =>
      'the station stopped charging but its answer carried no meter reading; the receipt follows from the station\'s own stop report: see `voltway vehicle history` in a moment',
  },
  { code: 'METER_FAULT', when: reason('METER_BACKWARDS'), hint: () => `the station's meter read less at the end than at the start, so nothing can be billed: ${NOT_BILLED}` },
  { code: 'METER_FAULT', when: has('stationCode'), hint: () => `the station refused to start because its meter reports a fault: ${NOT_BILLED}` },
  {
    code: 'METER_FAULT',
    when: (d) => typeof d.reason === 'string',
    hint: (d) => `the station's meter readings cannot be billed (${str(d.reason)}): ${NOT_BILLED}`,
  },
  {
    code: 'STATION_BUSY',
    when: has('stationCode'),
    hint: (d) => `the station itself refused (its code ${str(d.stationCode)}); try again in a moment or pick another station`,
  },
  {
    code: 'STATION_BUSY',
    when: (d) => typeof d.status === 'string' && d.status !== 'charging',
    hint: (d) => `the station is ${str(d.status)} now, not available; pick another station with \`voltway vehicle stations\``,
  },
  {
    code: 'TOO_SOON',
    when: (d) => typeof d.earliest === 'string' && d.minLeadMinutes !== undefined,
    hint: (d) => `this hub takes reservations at least ${str(d.minLeadMinutes)} minutes ahead; use --at ${str(d.earliest)} or later`,
  },
  {
    code: 'TOO_FAR_AHEAD',
    when: (d) => typeof d.latest === 'string' && d.maxAdvanceDays !== undefined,
    hint: (d) => `this hub takes reservations at most ${str(d.maxAdvanceDays)} days ahead; use --at ${str(d.latest)} or earlier`,
  },
  {
    code: 'RESERVATION_LIMIT',
    when: (d) => d.limit !== undefined,
    hint: (d) => `${str(d.limit)} live bookings is this hub's most for one vehicle; ${FREE_A_PLACE}`,
  },
  { code: 'PEER_UNAVAILABLE', when: has('publish'), hint: () => 'the request could not be sent: the connection to the broker dropped; retry' },
  { code: 'PEER_UNAVAILABLE', when: has('status'), hint: (d) => `hub ${str(d.hubId)} answered with HTTP ${str(d.status)}, which this hub does not understand; retry later or choose a route through other hubs` },
  { code: 'PEER_UNAVAILABLE', when: has('cause'), hint: (d) => `hub ${str(d.hubId)} did not answer this hub (${str(d.cause)}); retry later or choose a route through other hubs` },
  { code: 'PEER_UNAVAILABLE', when: has('hubId'), hint: (d) => `hub ${str(d.hubId)} is not linked to this hub by federation; choose a route through the hubs \`voltway vehicle routes\` offers` },
  {
    code: 'ROUTE_FAILED',
    when: (d) => d.reason === 'TOO_FAR_AHEAD' && typeof hopDetails(d).latest === 'string',
    hint: (d) =>
      `nothing was kept; hop ${str(d.failedHop)} at ${str(d.hubId)} is beyond that hub's horizon (${str(hopDetails(d).maxAdvanceDays)} days: no later than ${str(hopDetails(d).latest)}); depart earlier (--depart, or --times per hop)`,
  },
  {
    code: 'ROUTE_FAILED',
    when: (d) => d.reason === 'RESERVATION_LIMIT' && hopDetails(d).limit !== undefined,
    hint: (d) =>
      `nothing was kept; at ${str(d.hubId)} (hop ${str(d.failedHop)}) this vehicle already has ${str(hopDetails(d).limit)} live bookings, that hub's most; ${d.failedHop === 0 ? FREE_A_PLACE : 'bookings there come from your trips through it: cancel one (`voltway vehicle trips`, then `voltway vehicle trip-cancel <tripId>`) or wait until one has passed'}`,
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
