/** Every hint matches its cause: errors as the hub and the client make them, and the hint a user reads. */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { pino } from 'pino'
import { ManualClock } from '../base/clock.js'
import { VoltwayError, type OpArgs } from '../protocol/index.js'
import { RouteCatalog } from '../hub/routes/catalog.js'
import { HubDirectory } from '../hub/routes/directory.js'
import { listRoute } from '../hub/routes/route-list.js'
import { routeFailed, tripNotFound } from '../hub/trips/errors.js'
import { hintFor } from '../vehicle-sim/hints.js'
import { errorReport } from '../vehicle-sim/output.js'

const links = [
  { from: 'feira', to: 'salvador', distanceKm: 108 },
  { from: 'feira', to: 'jequie', distanceKm: 250 },
  { from: 'jequie', to: 'salvador', distanceKm: 360 },
]
const catalog = new RouteCatalog('feira', links, ['salvador', 'jequie'])
const directory = new HubDirectory({
  self: { hubId: 'feira', name: 'Feira', city: 'Feira', position: { lat: 0, lon: 0 } },
  fetch: () => Promise.reject(new Error('no peers in this test')),
  clock: new ManualClock(0),
  logger: pino({ level: 'silent' }),
})

async function routeError(args: OpArgs<'route.list'>): Promise<VoltwayError> {
  try {
    await listRoute(catalog, directory, args)
  } catch (err) {
    if (err instanceof VoltwayError) return err
  }
  throw new Error('route.list did not fail')
}

t.test('route.list to an unknown hub lists the hubs this hub routes to, and the likely one', async (t) => {
  const err = await routeError({ destination: 'salvadr', index: 0 })
  t.equal(err.code, 'NOT_FOUND')
  t.equal(err.message, 'no route to hub salvadr; this hub routes to jequie, salvador (did you mean salvador?)')
  t.same(err.details, { destination: 'salvadr', knownHubs: ['jequie', 'salvador'], didYouMean: 'salvador' })
})

// [cause, the error as its producer makes it, what the hint must say, what it must not]
const causes: Array<[string, () => Promise<VoltwayError> | VoltwayError, RegExp, RegExp?]> = [
  ['a route to an unknown hub', () => routeError({ destination: 'salvadr', index: 0 }), /^did you mean salvador\? --to takes one of .*: jequie, salvador$/, /reservations/],
  ['a route to a hub nothing resembles', () => routeError({ destination: 'recife', index: 0 }), /^--to takes one of the hubs this hub routes to: jequie, salvador$/],
  ['a route index past the end', () => routeError({ destination: 'salvador', index: 5 }), /there are 2 routes; pass --index 0 to 1/],
  ['a route id this hub never offered', () => new VoltwayError('NOT_FOUND', 'no route r_x from this hub', { routeId: 'r_x' }), /voltway vehicle routes --to/],
  ['an unknown trip', () => tripNotFound('t_1'), /no such trip/],
  ['an unknown reservation', () => new VoltwayError('NOT_FOUND', 'no reservation r_1 of this vehicle', { reservationId: 'r_1' }), /voltway vehicle reservations/],
  ['an unknown station', () => new VoltwayError('NOT_FOUND', 'no station X at this hub', { stationId: 'X' }), /voltway vehicle stations/],
  [
    'a station that does not answer start',
    () => new VoltwayError('TIMEOUT', 'station FSA-1 did not answer start within 10000 ms', { stationId: 'FSA-1', op: 'start' }),
    /station FSA-1 did not answer its hub: its agent may be offline, restarting or slow/,
    /--hub-id|--timeout-ms/,
  ],
  [
    'a hub that does not answer at all',
    () => new VoltwayError('TIMEOUT', 'no answer to hub.info from hub feira within 10000 ms', { op: 'hub.info', hubId: 'feira', timeoutMs: 10000, defaultTimeoutMs: 10000 }),
    /^hub feira did not answer at all within 10000 ms: a wrong --hub-id \(a hub that does not exist on this broker\) gives exactly this/,
    /--timeout-ms/,
  ],
  [
    'a hub that does not answer any of 3 copies (a wrong --hub-id)',
    () => new VoltwayError('TIMEOUT', 'no answer to station.list from hub salvadr within 10000 ms per copy, sent 3 times (30000 ms in all) with request id ab12-1', { op: 'station.list', hubId: 'salvadr', timeoutMs: 10000, defaultTimeoutMs: 10000, id: 'ab12-1', tries: 3 }),
    /^hub salvadr did not answer at all within 30000 ms in all \(3 copies, 10000 ms each\): a wrong --hub-id \(a hub that does not exist on this broker\) gives exactly this/,
    /--timeout-ms/,
  ],
  [
    'a trip booking whose answer was lost (sent 3 times with one id)',
    () => new VoltwayError('TIMEOUT', 'no answer to route.reserve from hub feira within 10000 ms per copy, sent 3 times (30000 ms in all) with request id ab12-7', { op: 'route.reserve', hubId: 'feira', timeoutMs: 10000, defaultTimeoutMs: 10000, id: 'ab12-7', tries: 3 }),
    /^no answer to route\.reserve from hub feira, sent 3 times with request id ab12-7; it may have been done all the same: run `voltway vehicle trips`.*a wrong --hub-id \(a hub that does not exist on this broker\) gives exactly this/,
    /--timeout-ms/,
  ],
  [
    'a reservation whose answer was lost',
    () => new VoltwayError('TIMEOUT', 'no answer to reservation.create from hub feira within 10000 ms', { op: 'reservation.create', hubId: 'feira', timeoutMs: 10000, defaultTimeoutMs: 10000 }),
    /it may have been done all the same: run `voltway vehicle reservations`/,
  ],
  [
    'a charge stop whose answer was lost',
    () => new VoltwayError('TIMEOUT', 'no answer to charge.stop from hub feira within 25000 ms', { op: 'charge.stop', hubId: 'feira', timeoutMs: 25000, defaultTimeoutMs: 25000, id: 'x-1', tries: 3 }),
    /`voltway vehicle history`/,
  ],
  [
    // No answer at all to a shorter wait: a wrong --hub-id (nobody serves it) or a wait too short; the hint names both.
    'a wait cut shorter than the op needs, or a hub id nobody serves',
    () => new VoltwayError('TIMEOUT', 'no answer to hub.info from hub salvadr within 2000 ms', { op: 'hub.info', hubId: 'salvadr', timeoutMs: 2000, defaultTimeoutMs: 10000 }),
    /^hub salvadr did not answer within 2000 ms: a wrong --hub-id \(a hub that does not exist on this broker\) gives exactly this: check that --hub-id is the hub's hubId.*; else hub\.info can take longer than --timeout-ms 2000 \(its default is 10000 ms.*retry without --timeout-ms/,
  ],
  [
    'a wait cut shorter than the op needs, no hub id known',
    () => new VoltwayError('TIMEOUT', 'no answer to route.list within 1000 ms', { op: 'route.list', timeoutMs: 1000, defaultTimeoutMs: 10000 }),
    /^route\.list can take longer than --timeout-ms 1000 \(its default is 10000 ms.*retry without --timeout-ms/,
    /--hub-id/,
  ],
  [
    'a change whose wait was cut shorter than it needs: look before a new try',
    () => new VoltwayError('TIMEOUT', 'no answer to charge.start from hub feira within 10000 ms', { op: 'charge.start', hubId: 'feira', timeoutMs: 10000, defaultTimeoutMs: 25000 }),
    /it may have been done all the same: run `voltway vehicle history`.*charge\.start can take longer than --timeout-ms 10000 \(its default is 25000 ms/,
    /--hub-id|retry without/,
  ],
  // METER_FAULT: every details.reason the hub emits (hub/charging/service.ts, hub/store/charging-rules.ts)
  [
    'a start without any meter reading',
    () => new VoltwayError('METER_FAULT', 'station FSA-1 started session s_1 without reporting a meter reading', { reason: 'METER_MISSING_START', sessionId: 's_1' }),
    /^the station reported no meter reading when the session started.*not charged/,
    /reported a fault/,
  ],
  [
    'a stop answer without a meter reading',
    () => new VoltwayError('METER_FAULT', 'station FSA-1 stopped without a meter reading', { reason: 'METER_MISSING_STOP', sessionId: 's_1' }),
    /stopped charging but its answer carried no meter reading; the receipt follows/,
    /not charged|reported a fault/,
  ],
  ['a meter that ran backwards', () => new VoltwayError('METER_FAULT', 'session s_1 cannot be billed: METER_BACKWARDS', { reason: 'METER_BACKWARDS' }), /read less at the end than at the start/, /no meter reading/],
  ['a station refusing start for its meter', () => new VoltwayError('METER_FAULT', 'station FSA-1 refused to start: meter', { stationCode: 'METER_FAULT' }), /refused to start because its meter reports a fault/],
  ['a session ended without a billable reading', () => new VoltwayError('METER_FAULT', 'session s_1 ended without a billable reading'), /could not be billed from the station's meter readings/, /reported a fault/],
  // STATION_BUSY: busy with a vehicle, in another state, or the station's own refusal
  ['a station charging another vehicle', () => new VoltwayError('STATION_BUSY', 'station FSA-1 is charging', { status: 'charging' }), /charging another vehicle/],
  ['a disabled station', () => new VoltwayError('STATION_BUSY', 'station FSA-1 is disabled', { status: 'disabled' }), /is disabled now, not available/, /charging another vehicle/],
  ['a station refusing to stop', () => new VoltwayError('STATION_BUSY', 'station FSA-1 refused to stop: x', { stationCode: 'BUSY' }), /the station itself refused \(its code BUSY\)/, /charging another vehicle/],
  [
    'a reservation too soon',
    () => new VoltwayError('TOO_SOON', 'a reservation must be at least 120 minutes ahead', { at: '2026-11-24T12:00:00Z', earliest: '2026-11-24T14:00:00Z', minLeadMinutes: 120 }),
    /at least 120 minutes ahead; use --at 2026-11-24T14:00:00Z or later/,
  ],
  [
    'a reservation beyond the horizon',
    () => new VoltwayError('TOO_FAR_AHEAD', 'a reservation may be at most 30 days ahead', { at: '2027-11-24T12:00:00Z', latest: '2026-12-24T12:00:00Z', maxAdvanceDays: 30 }),
    /at most 30 days ahead; use --at 2026-12-24T12:00:00Z or earlier/,
  ],
  ['a vehicle at its booking limit', () => new VoltwayError('RESERVATION_LIMIT', 'this vehicle already has 20 live reservations', { live: 20, limit: 20 }), /20 live bookings is this hub's most for one vehicle; cancel a reservation .*voltway vehicle cancel <reservationId>.*trip-cancel <tripId>/],
  ['a trip whose hop refused the vehicle for its limit', () => routeFailed({ failedHop: 1, hubId: 'salvador', reason: 'RESERVATION_LIMIT', message: 'limit' }), /hop 1 at salvador failed with RESERVATION_LIMIT: this vehicle has as many live bookings at that hub as it may/],
  // With the peer's details (reasonDetails), the hint gives the peer's own limit and horizon, not the defaults, and the flags `vehicle trip` has.
  [
    "a trip whose peer hop is at that peer's limit",
    () => routeFailed({ failedHop: 1, hubId: 'salvador', reason: 'RESERVATION_LIMIT', message: 'limit', details: { live: 1, limit: 1 } }),
    /at salvador \(hop 1\) this vehicle already has 1 live bookings, that hub's most; .*voltway vehicle trips.*trip-cancel <tripId>/,
    /default 20/,
  ],
  [
    "a trip whose hop is beyond that hub's horizon",
    () => routeFailed({ failedHop: 2, hubId: 'ilheus', reason: 'TOO_FAR_AHEAD', message: 'far', details: { at: '2027-01-10T00:00:00Z', latest: '2026-12-03T00:00:00Z', maxAdvanceDays: 2 } }),
    /hop 2 at ilheus is beyond that hub's horizon \(2 days: no later than 2026-12-03T00:00:00Z\); depart earlier \(--depart, or --times per hop\)/,
    /--at|default 30/,
  ],
  // PEER_UNAVAILABLE: a peer down, a peer answering nonsense, a hub that is no peer, the client unable to publish
  ['a peer that does not answer', () => new VoltwayError('PEER_UNAVAILABLE', 'hub jequie did not answer (ECONNREFUSED)', { hubId: 'jequie', cause: 'ECONNREFUSED' }), /hub jequie did not answer this hub \(ECONNREFUSED\)/],
  ['a peer answering an unexpected status', () => new VoltwayError('PEER_UNAVAILABLE', 'hub jequie gave an unexpected answer (502)', { hubId: 'jequie', status: 502 }), /answered with HTTP 502/],
  ['a hub that is not a peer', () => new VoltwayError('PEER_UNAVAILABLE', 'hub x is not a peer of this hub', { hubId: 'x' }), /hub x is not linked to this hub by federation/, /did not answer/],
  ['a request the client could not publish', () => new VoltwayError('PEER_UNAVAILABLE', 'cannot publish to hub feira: closed', { op: 'hub.info', hubId: 'feira', publish: 'failed' }), /could not be sent: the connection to the broker dropped/, /federat/],
  [
    'a trip whose hop found no station',
    () => routeFailed({ failedHop: 1, hubId: 'salvador', reason: 'NO_STATION_AVAILABLE', message: 'none free' }),
    /^nothing was kept; hop 1 at salvador failed with NO_STATION_AVAILABLE: no free station within range/,
  ],
  ['a request id reused for another request', () => new VoltwayError('IDEMPOTENCY_KEY_REUSED', 'request id "r-1" was used for another request', { id: 'r-1' }), /request id r-1 was already used for another request/, /federation|hub bug/],
  ['a peer reusing an Idempotency-Key (federation)', () => new VoltwayError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request', { key: 'k1' }), /federation call reused an Idempotency-Key/, /request id/],
  ['a trip whose peer is down', () => routeFailed({ failedHop: 2, hubId: 'jequie', reason: 'PEER_UNAVAILABLE', message: 'down' }), /hop 2 at jequie failed with PEER_UNAVAILABLE: a federated hub did not answer/],
  // HTTP refusals before any route ran: a vehicle sees one only as a peer's answer its hub passed on, a hub's fault.
  ['a peer refusing a federation body over its limit', () => new VoltwayError('PAYLOAD_TOO_LARGE', 'body is larger than 64 KiB', { limitBytes: 65536, hubId: 'salvador' }), /size limit; report this as a hub bug/],
  ['a peer refusing a federation body not sent as JSON', () => new VoltwayError('UNSUPPORTED_MEDIA_TYPE', 'body must be JSON', { hubId: 'salvador' }), /not sent as JSON; report this as a hub bug/],
  ['a peer that did not get a federation request in time', () => new VoltwayError('REQUEST_TIMEOUT', 'request body did not arrive within 30 s', { headersTimeoutMs: 10000, requestTimeoutMs: 30000, hubId: 'salvador' }), /in time; retry/, /hub bug/],
  ['a peer refusing federation headers over its limit', () => new VoltwayError('HEADERS_TOO_LARGE', 'request headers are larger than 16 KiB', { limitBytes: 16384, hubId: 'salvador' }), /headers over its size limit; report this as a hub bug/],
]

t.test('every hint matches its cause', async (t) => {
  for (const [cause, make, says, never] of causes) {
    const report = errorReport(await make())
    t.match(report.hint, says, cause)
    if (never) t.notMatch(report.hint, never, `${cause}: no hint of another cause`)
  }
})

t.test('every code the hub emits to vehicles has a hint cause in the table above', async (t) => {
  const emitted = new Set<string>()
  for (const file of readdirSync('hub', { recursive: true, encoding: 'utf8' })) {
    // The dashboard (ui/) and the operator and enrollment APIs (accounts/) answer people at other tools, not vehicles.
    if (!file.endsWith('.ts') || file.startsWith('ui') || file.startsWith('accounts')) continue
    for (const m of readFileSync(join('hub', file), 'utf8').matchAll(/new VoltwayError\('([A-Z_]+)'/g)) emitted.add(m[1] as string)
  }
  const covered = new Set<string>()
  for (const [, make] of causes) covered.add((await make()).code)
  // Codes with one cause each (one details shape, or none): their fallback hint is that cause's hint.
  for (const oneCause of ['CARD_UNKNOWN', 'IDEMPOTENCY_IN_PROGRESS', 'HOLD_EXPIRED', 'UNAUTHORIZED', 'BAD_REQUEST', 'RATE_LIMITED', 'INTERNAL', 'STORAGE_UNAVAILABLE', 'STATION_OFFLINE', 'OUT_OF_RANGE', 'RESERVATION_CONFLICT', 'RESERVED_BY_OTHER', 'NO_STATION_AVAILABLE']) {
    covered.add(oneCause)
  }
  for (const code of emitted) t.ok(covered.has(code), `${code} is checked against its details variants`)
})

t.test('a cause the table does not know falls back to the hint of its code', async (t) => {
  t.match(hintFor('NOT_FOUND', { sessionId: 's_1' }), /no such id for this vehicle/)
  t.match(hintFor('ROUTE_FAILED', { reason: 'SOMETHING_NEW' }), /see failedHop\/reason/)
  t.match(hintFor('TIMEOUT', {}), /a wrong --hub-id \(a hub that does not exist on this broker\) gives exactly this/)
})
