/**
 * The human side of the wire error codes: what each means, when a hub,
 * station or peer answers it, and what the person who sees it should do.
 * docs/error-codes.md is generated from this table (scripts/gen-docs.ts), and
 * the mapped types below make a new code or op without an entry a type error.
 */
import type { ErrorCode } from './errors.js'
import type { OpName } from './schemas/ops.js'

export interface ErrorDoc {
  /** What went wrong, in one or two sentences. */
  meaning: string
  /** Who answers it and in which situations (hub, station agent, federation peer, client library). */
  when: string
  /** What the user or the operator should do about it. */
  action: string
}

export const ERROR_DOCS: { readonly [C in ErrorCode]: ErrorDoc } = {
  BAD_REQUEST: {
    meaning:
      'The message could not be used: it is not UTF-8 JSON, not an object, larger than 64 KiB (over HTTP that is PAYLOAD_TOO_LARGE), contains a `__proto__`, `constructor` or `prototype` key, has no readable `id`, or its args, body, query or path parameters do not match the schema (then `details.issues` lists every field with what was expected).',
    when:
      'The hub, for any request (a request without a readable `id` is answered with `"id": null`); `route.reserve` when the number of `times` differs from the number of hops. A peer hub for an invalid body, query, path parameter (one over 200 characters too, before any route runs), a path whose %-escapes do not decode, or a malformed `Idempotency-Key`. A station agent in `cmd/res` for a command it cannot read.',
    action:
      'Fix the message: compare it with the JSON Schema under docs/schemas/ and the fields named in `details.issues`. Nothing was changed, so sending the corrected request is safe.',
  },
  UNKNOWN_OP: {
    meaning: 'The `op` is not an op of protocol v1, or this hub does not serve it.',
    when: 'The hub, before looking at the args.',
    action: 'Check the op name against docs/protocol.md. If the name is right, the hub runs an older or partial version: ask its operator which version it runs.',
  },
  UNAUTHORIZED: {
    meaning: 'The caller could not be identified: a missing, malformed or unknown bearer token on the federation API.',
    when:
      'A peer hub, on every `/federation/v1/*` route (`/healthz` needs no token). Over MQTT the broker refuses the connection itself (CONNACK "not authorized"); clients such as the vehicle simulator report that with this code.',
    action:
      'Operator: the calling hub must send `Authorization: Bearer <token>` with the token the called hub has for it in its peer list; check both hubs\' federation config. Vehicles: check the username and password the hub has for the vehicle.',
  },
  FORBIDDEN: {
    meaning: 'The caller is known but may not do this.',
    when:
      'Reserved: no part of this version answers it. Acting on another vehicle\'s reservation, session or trip is answered with NOT_FOUND, so that ids of others are not confirmed to exist.',
    action: 'None today. A client should treat it like NOT_FOUND and not retry.',
  },
  NOT_FOUND: {
    meaning: 'An id in the request names nothing that belongs to the caller at this hub.',
    when:
      'The hub, for a station that is not at this hub, a reservation, session or trip that is not the vehicle\'s own (or does not exist), a route destination with no route, or a route `index` past the end. A peer hub, for a hold or reservation that its calling peer did not create.',
    action:
      'Check the id: `reservation.list`, `station.list` and `route.list` show what exists. Ids are case-sensitive. Retrying the same request will not help.',
  },
  NO_STATION_AVAILABLE: {
    meaning:
      'No station could be booked: every station within `rangeKm` is booked or held within the window around `at`, or there is no station in range at all (`details.stationsInRange` is 0).',
    when:
      '`reservation.create` without `stationId`. A peer hub for `POST /federation/v1/holds`, with `details.waitDie` `full` (everything booked), `died` (younger than a competing trip, by wait-die) or `timeout` (waited for competing holds in vain).',
    action:
      'Try a time at least one reservation window (default 120 min) away from the busy one, a larger `rangeKm`, or another position. For a trip, try other times or another route.',
  },
  RESERVATION_CONFLICT: {
    meaning:
      'The named station is already booked by a reservation or hold whose time is less than the reservation window (default 120 min) away from `at`. Exactly one window apart is allowed.',
    when: '`reservation.create` with `stationId`. `details` has `stationId`, `at` and `windowMinutes`.',
    action: 'Pick a time at least `details.windowMinutes` away from the other booking, or leave out `stationId` to get the nearest free station.',
  },
  TOO_SOON: {
    meaning: '`at` is earlier than now plus the hub\'s minimum lead time (default 120 min).',
    when: '`reservation.create`; a peer hub for `POST /federation/v1/holds` (a trip hop too soon). `details.earliest` is the earliest accepted time.',
    action: 'Ask again with `at` at or after `details.earliest`.',
  },
  TOO_FAR_AHEAD: {
    meaning: '`at` is later than now plus the hub\'s booking horizon (`rules.maxAdvanceDays`, default 30 days).',
    when: '`reservation.create`; a peer hub for `POST /federation/v1/holds` (a trip hop too far ahead; the vehicle gets ROUTE_FAILED with this `details.reason`, as for hop 0 at its home hub). `details.latest` is the latest accepted time, `details.maxAdvanceDays` the horizon.',
    action: 'Ask again with `at` at or before `details.latest`, or book nearer the time.',
  },
  RESERVATION_LIMIT: {
    meaning: 'The vehicle already has as many live bookings at this hub as it may (`rules.maxReservationsPerVehicle`, default 20): reservations whose window has not ended, and holds of trips not yet confirmed or expired. A peer\'s vehicles are counted per peer and vehicle.',
    when: '`reservation.create`; a peer hub for `POST /federation/v1/holds` (the vehicle gets ROUTE_FAILED with this `details.reason`, as for hop 0 at its home hub). `details.limit` is the limit, `details.live` how many live bookings the vehicle has there.',
    action: 'Cancel a reservation or trip the vehicle no longer needs (`reservation.cancel`, `trip.cancel`), or wait until one has passed, then ask again.',
  },
  OUT_OF_RANGE: {
    meaning: 'The named station is farther than `rangeKm` from `position` (great-circle distance), or, for a hold, the called hub has no station within `rangeKm` of `from`.',
    when: '`reservation.create` with `stationId` (`details.distanceKm`, `details.rangeKm`); a peer hub for `POST /federation/v1/holds`.',
    action: 'Charge first, raise `rangeKm` if the vehicle really can go that far, or choose a nearer station or hop.',
  },
  STATION_OFFLINE: {
    meaning: 'The station\'s agent is not connected to its hub (its retained state or Last Will says `online: false`), or a command could not be sent to it.',
    when: '`charge.start`, `charge.stop`.',
    action:
      'User: pick another station or try later. Operator: check the agent on the board (`voltway station check`, its service log), its network and the broker.',
  },
  STATION_BUSY: {
    meaning:
      'The station cannot take this session now: it is charging, faulted or disabled (`details.status`), already has an active session (one per station), or refused the command (`details.stationCode`).',
    when: '`charge.start`; `charge.stop` when the station refuses to stop. The station agent answers it in `cmd/res` too.',
    action: 'User: wait or pick another station. Operator: a station that stays `faulted` or `disabled` needs a look on site; `enable` clears a fault after a good meter reading.',
  },
  RESERVED_BY_OTHER: {
    meaning: 'Another vehicle holds a reservation at this station whose window contains the present moment.',
    when: '`charge.start`. `details.at` is the time of that reservation (not whose it is).',
    action: 'Reserve the station for a time that is free, or charge at another station.',
  },
  PEER_UNAVAILABLE: {
    meaning: 'Another hub of the federation could not be used: it did not answer, gave an answer that does not follow the protocol, or is not a peer of this hub.',
    when:
      'The hub for `route.list` when a hop is a peer it has never heard from; in `route.reserve` a peer that fails makes the whole trip fail with ROUTE_FAILED and `details.reason` PEER_UNAVAILABLE; `history.list` lists unreachable hubs in `unreachableHubs` instead of failing. `charge.*` of a roaming session (docs/protocol.md "Roaming") when the station\'s hub does not answer; for `charge.stop`, `details.queued: true` says the stop is queued and retried, and its receipt appears in `history.list` once that hub answers. The client library when it cannot publish its request.',
    action:
      'Retry later or choose a route through other hubs. Operator: check the peer\'s URL and token in the config, the network, and the peer\'s `/healthz`; with `details.tls` true, the peer\'s certificate against its `ca` and url host, and the client certificate (`cert`/`key`) if the peer requires one.',
  },
  ROUTE_FAILED: {
    meaning:
      'One hop of a route could not be reserved, so none was: every hold placed for the trip was released. `details.failedHop` is the hop (0 is this hub), `details.reason` its error code, `details.rolledBack` is true.',
    when: '`route.reserve`.',
    action: 'Read `details.reason` (for example NO_STATION_AVAILABLE or TOO_SOON at that hop), then try other times, a larger range, or another route `index`.',
  },
  TIMEOUT: {
    meaning: 'An answer did not come in time.',
    when:
      'The hub when a station does not answer a start or stop command within the command timeout (a start that timed out is undone: the session is failed and a stop is sent); a coordinator when there is no time left to place a hop before earlier holds expire. The client library when the hub does not answer within its timeout (each copy of a repeated request waits that long again, so the wait in all is the timeout times the copies); a request to a hub id that does not exist on that broker is never answered and ends so.',
    action:
      'Retry once; if it persists, the station or hub is overloaded or unreachable. A vehicle that gets no answer at all: check its hub id first (a wrong one gives exactly this). Operator: check the broker and the station agent. After a TIMEOUT on `charge.stop`, `charge.status` shows whether the session ended.',
  },
  INTERNAL: {
    meaning: 'Something unexpected failed inside the hub or agent. The message says no more on purpose.',
    when: 'Any part, for any request.',
    action: 'Retry later. Operator: the hub logs the cause as an `internal error` line (pino JSON) with the op and vehicle; please report it.',
  },
  IDEMPOTENCY_KEY_MISSING: {
    meaning: 'A mutating federation request (POST or DELETE) came without an `Idempotency-Key` header.',
    when: 'A peer hub, on `POST /federation/v1/holds`, `POST .../confirm` and the DELETE routes. HTTP 400.',
    action: 'The calling hub is faulty: it must send a unique key per logical operation and the same key on each retry of it. Report it to that hub\'s maintainers.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    meaning: 'An `Idempotency-Key` (federation) or a vehicle request id (mutating ops) was sent again with a different request (another method, path, op, args or body). The first answer stays; nothing was changed.',
    when: 'A peer hub, on mutating federation routes (HTTP 422); a vehicle, on reservation.create/cancel, route.reserve, trip.cancel, charge.start/stop within 24 h of the first use of the id; on reservation.create, route.reserve and charge.start also after that, while what the first use of the id made (its reservation, trip or session) still exists.',
    action: 'A new operation needs a new key or request id; only a retry of the same request reuses one (a vehicle: ids unique per vehicle, a UUID or a counter that never restarts). From a peer hub: report it to that hub\'s maintainers.',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    meaning: 'The first request with this `Idempotency-Key` or vehicle request id (or the placing of this hold, or the booking of this trip) is still running.',
    when: 'A peer hub, on mutating federation routes (HTTP 409); a vehicle that repeats a mutating request whose first run has not answered within a few seconds (for example on a hub replica that died).',
    action: 'Retry the same request with the same key after a short pause; it then returns the first request\'s answer.',
  },
  HOLD_EXPIRED: {
    meaning: 'A hold can no longer become a reservation: it was released (also when the release arrived before the hold itself), or its TTL passed and its station has been booked since.',
    when: 'A peer hub, on `POST /federation/v1/holds/{holdId}/confirm` and on a `POST /federation/v1/holds` whose hold id was already released. HTTP 410.',
    action: 'The coordinating hub gives up the trip and releases its other holds; the user gets ROUTE_FAILED and may try again.',
  },
  METER_FAULT: {
    meaning:
      'The session cannot be billed: the meter reading at start is missing, the reading at stop is missing, or the meter went backwards. No receipt is made from a bad reading; the session is closed without a bill.',
    when: '`charge.stop`; `charge.start` when the station refuses because of its meter or reports no meter reading for the new session within the command timeout (then it is stopped); `charge.status` of a session that ended that way. The station agent reports meter problems as `fault` events (`METER_READ_FAILED`, `METER_BACKWARDS`, `METER_STALE`, `METER_JUMP`).',
    action: 'User: you were not charged for that session; try another station. Operator: check the meter (wiring, Modbus address, pulse input) with `voltway station check`.',
  },
  STORAGE_UNAVAILABLE: {
    meaning:
      'The hub cannot write to its database right now (the disk is full, the file system went read-only, an I/O error, or another writer held the database longer than the busy timeout). Nothing was changed.',
    when: 'The hub, on any request that writes (bookings, cancels, charging, trips), and a peer hub on mutating federation routes (HTTP 503). Its `/healthz` answers 503 with `"database": false` meanwhile.',
    action:
      'User or calling hub: retry later; the same request is safe to send again. Operator: check free space and the mount of `dataDir` (`df`, `mount`), the file\'s permissions, and the hub\'s log (`storage unavailable` lines name the SQLite error).',
  },
  RATE_LIMITED: {
    meaning:
      'Too many of this vehicle\'s requests are waiting at the hub; this one was not run. `details.limit` is how many may wait per vehicle. Each vehicle\'s requests are served in turn with every other vehicle\'s, a few at a time, so one vehicle never slows the others down.',
    when: 'The hub, for any request, when the vehicle already has the maximum number of requests running or queued.',
    action: 'Wait for answers to the requests already sent before sending more (keep a bounded number in flight), then retry this one: nothing was changed.',
  },
  ANSWER_TOO_LARGE: {
    meaning:
      'The request ran, but its answer is larger than the hub\'s MQTT broker takes from the hub (its MQTT 5 Maximum Packet Size: Mosquitto\'s `max_packet_size`). `details.bytes` is the answer\'s size, `details.maxBytes` the broker\'s limit. Only this small answer was sent, so the hub\'s connection stays up.',
    when: 'The hub on an external broker, for an answer that grows with the hub (`station.list` is about 170 bytes per station).',
    action: 'User: for `station.list`, ask in pages (`limit`, then `after` set to the answer\'s `next`; `voltway vehicle stations` pages by itself, with smaller pages after this error); otherwise nothing to fix in the request: tell the hub\'s operator, and retry once they did. Operator: raise or remove `max_packet_size` in Mosquitto\'s config (`voltway hub acl` sets none), and reload it.',
  },
  CARD_UNKNOWN: {
    meaning:
      'The RFID card tapped at a station belongs to no vehicle account of this hub (it was never registered, or it was removed from hub.json `vehicles[].cards`). No session starts. Cards of other companies\' drivers (roaming) are not accepted yet.',
    when: 'The hub, answering a station\'s card authorization (`voltway/v1/stations/S/auth/res`); the station agent, offline, for a card missing from its local cache or whose cached authorization expired (in its log).',
    action: 'Driver: use a card registered with this company, or start from the vehicle (`charge.start`). Operator: add the card\'s UID (as the station logs it) to the vehicle\'s `cards` in hub.json and restart the hub.',
  },
  ACCOUNT_EXISTS: {
    meaning: 'A vehicle or station with this id already exists at this hub (vehicles and stations share one name space: the id is the MQTT username).',
    when: 'The hub, on `POST /admin/v1/vehicles` and `POST /admin/v1/stations`, and `voltway hub vehicle add` / `station add`.',
    action: 'Pick another id, or change the existing account: `voltway hub vehicle passwd --id V` for a new password, `remove` then `add` for a new kind. Nothing was changed.',
  },
  ENROLLMENT_REFUSED: {
    meaning:
      'The enrollment code was not accepted: `details.reason` is `unknown` (no such station, no code issued for it, or another code), `used` (the code was redeemed once already) or `expired` (codes last 24 h).',
    when: 'The hub, on `POST /enroll/v1`, which `voltway station init --enroll CODE` calls.',
    action:
      'Ask the hub operator for a new code (`voltway hub station passwd --id S --enroll`) and run `voltway station init --enroll` again with the station id the code was issued for. Nothing was changed.',
  },
  PAYLOAD_TOO_LARGE: {
    meaning: 'An HTTP request body is larger than the route reads (64 KiB; 4 KiB on the dashboard\'s login and logout), or its chunk extensions are larger than 16 KiB (on any route, a GET too). `details.limitBytes` is the limit.',
    when: 'The hub\'s HTTP server, on any route, before the route runs (HTTP 413). Over MQTT a message that large is BAD_REQUEST.',
    action: 'Send only the fields of the request: no federation or admin body comes near the limit, so a body that large is a bug of the caller. Nothing was changed.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    meaning: 'An HTTP request has a non-empty body that is not sent as `Content-Type: application/json`, a Content-Type that is not a media type at all, or a body sent compressed (a `Content-Encoding` other than `identity`; the answer then carries `Accept-Encoding: identity`).',
    when: 'The hub\'s HTTP server, on any route but the dashboard\'s login form, before the route runs (HTTP 415). An empty body is no body whatever its Content-Type.',
    action: 'Send the body as JSON with `Content-Type: application/json` (`curl --json`, or `-H \'Content-Type: application/json\'`), uncompressed. Nothing was changed.',
  },
  REQUEST_TIMEOUT: {
    meaning:
      'An HTTP request did not arrive in time: its headers within `headersTimeoutMs` (10 s), or the whole request within `requestTimeoutMs` (30 s) of its start. `details` has both limits. The hub closes the connection after the answer.',
    when: 'The hub\'s HTTP server, on any connection, before any route runs (HTTP 408; docs/operator-guide.md "Connection limits").',
    action:
      'Send the request again, whole: a body exactly as long as its Content-Length, headers in one go. A client or proxy that holds requests back (or a network that slow) must be fixed. Nothing was changed.',
  },
  HEADERS_TOO_LARGE: {
    meaning: 'The headers of an HTTP request are larger than Node\'s limit (16 KiB), the most the hub reads. `details.limitBytes` is the limit. The hub closes the connection after the answer.',
    when: 'The hub\'s HTTP server, on any connection, before any route runs (HTTP 431).',
    action: 'Send only the headers the call needs (a federation call: `Authorization`, `Content-Type`, `Idempotency-Key`); a large cookie or a proxy that adds many headers is the usual cause. Nothing was changed.',
  },
}

/** What a mutating op answers to a repeated request id (hub/ops/idempotent.ts): another request under the id, or the first still running. */
const REPEATED: readonly ErrorCode[] = ['IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_IN_PROGRESS']

/**
 * Codes each op may answer beyond the ones every request can get
 * (`COMMON_OP_ERRORS`). A documentation table: keep it in step with the
 * handlers in hub/.
 */
export const OP_ERRORS: { readonly [O in OpName]: readonly ErrorCode[] } = {
  'hub.info': [],
  'station.list': [],
  'station.nearest': [],
  'reservation.create': ['TOO_SOON', 'TOO_FAR_AHEAD', 'RESERVATION_LIMIT', 'NOT_FOUND', 'OUT_OF_RANGE', 'RESERVATION_CONFLICT', 'NO_STATION_AVAILABLE', ...REPEATED],
  'reservation.cancel': ['NOT_FOUND', ...REPEATED],
  'reservation.list': [],
  'route.list': ['NOT_FOUND', 'PEER_UNAVAILABLE'],
  'route.reserve': ['NOT_FOUND', 'ROUTE_FAILED', ...REPEATED],
  'trip.cancel': ['NOT_FOUND', ...REPEATED],
  'trip.list': [],
  'charge.start': ['NOT_FOUND', 'STATION_OFFLINE', 'STATION_BUSY', 'RESERVED_BY_OTHER', 'METER_FAULT', 'TIMEOUT', 'PEER_UNAVAILABLE', ...REPEATED],
  'charge.status': ['NOT_FOUND', 'METER_FAULT', 'PEER_UNAVAILABLE'],
  'charge.stop': ['NOT_FOUND', 'STATION_OFFLINE', 'STATION_BUSY', 'METER_FAULT', 'TIMEOUT', 'PEER_UNAVAILABLE', ...REPEATED],
  'history.list': [],
}

/** Codes any request can get: unreadable or invalid messages, unknown ops, too many waiting, a database that cannot take writes, unexpected failures, an answer the hub's broker would not take. */
export const COMMON_OP_ERRORS: readonly ErrorCode[] = ['BAD_REQUEST', 'UNKNOWN_OP', 'RATE_LIMITED', 'STORAGE_UNAVAILABLE', 'INTERNAL', 'ANSWER_TOO_LARGE']
