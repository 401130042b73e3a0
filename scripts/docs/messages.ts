/**
 * Every message of protocol v1 that gets a JSON Schema file under
 * docs/schemas/, with its title and description. The schemas come from the
 * zod definitions in protocol/; nothing about a message's shape is written here.
 *
 * The files describe what a receiver accepts (zod "input"): fields with a
 * default may be left out, and unknown fields are allowed because a receiver
 * ignores them (docs/protocol.md lets later versions add optional fields).
 */
import { z } from 'zod'
import {
  FedErrorBody,
  FedHubInfo,
  FedReceipt,
  FedReceipts,
  FedSession,
  FedSessionStart,
  FedSessionStarted,
  FedStations,
  FedStationsQuery,
  Hold,
  HoldConfirmation,
  HoldRequest,
  HubState,
  OPS,
  OP_NAMES,
  RequestEnvelope,
  ResponseEnvelope,
  StationAck,
  StationCommand,
  StationCommandResult,
  CardAuthRequest,
  CardAuthResult,
  StationEvent,
  StationState,
  Telemetry,
  type OpName,
} from '../../protocol/index.js'
import { canonicalSchema, isObject, renderJson, toJson, type Json, type JsonObject } from './json.js'

export const SCHEMA_BASE_URL = 'https://voltway.dev/schemas/v1/'
export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema'

export interface MessageSchema {
  /** Path under docs/schemas/, e.g. `station/event.json`. */
  file: string
  title: string
  description: string
  schema: z.ZodType
}

/** One line per op for the schemas and docs/protocol.md; a new op without one does not typecheck. */
export const OP_SUMMARIES: { readonly [O in OpName]: string } = {
  'hub.info': "The hub's id, name, city, position, number of stations and the ids of its federation peers.",
  'station.list': "The hub's stations with their price and live status, in id order (code units: `-` < digits < upper case < `_` < lower case). Without `limit`, every station (after `after`, if given), which is what `{}` answered before paging (then in the hub's configuration order); with `limit` (1 to 1000), at most that many, and `next` when more remain: the id of the page's last station, to send back as `after` for the next page. `after` need not be a station that exists, so a page follows on when the station it ended on was removed meanwhile. A hub with thousands of stations on an external broker should be asked in pages: a whole list is about 170 bytes per station, and an operator's broker packet bound gives `ANSWER_TOO_LARGE` past it.",
  'station.nearest': 'Stations within `rangeKm` of `position`, nearest first (at most `limit`); `free` says whether the station can be reserved at `at` (default now: when the hub received the request); `distanceKm` is the great-circle distance to the metre.',
  'reservation.create': 'Reserve the named station, or the nearest free station within `rangeKm` of `position`, for time `at`.',
  'reservation.cancel': "Cancel one of the vehicle's reservations by id, or all of its current ones with `{\"all\": true}`; answers how many were cancelled. `{\"all\": true}` cancels those booked by the time its request `id` was first seen: repeated with the same `id` (see Repeated requests), it leaves what the vehicle booked since.",
  'reservation.list': "The vehicle's current reservations (those whose window has not ended), earliest first.",
  'route.list': 'One of the routes from this hub to the destination hub, shortest first, paged by `index`; hop 0 is this hub.',
  'route.reserve': 'Reserve one station per hop of a route, each at its own time, all or nothing.',
  'trip.cancel': "Cancel every leg of one of the vehicle's trips.",
  'trip.list': "The vehicle's trips coordinated by this hub, newest first, whatever became of them (`booking`, `confirmed`, `failed`, `cancelled`): how a vehicle whose `route.reserve` answer was lost finds its trip.",
  'charge.start': "Start charging at a station: the hub checks the station and the bookings around now, then commands the station's relay on. Repeated with the same request `id` (see Repeated requests), it answers the session its first run started and starts no second one.",
  'charge.status': 'Live energy, power and cost of one of the vehicle\'s sessions.',
  'charge.stop': 'Stop a session and get its receipt, billed from the meter difference.',
  'history.list': "The vehicle's receipts from every hub of the federation, newest first; `partial` and `unreachableHubs` say which hubs did not answer.",
}

function opMessages(): MessageSchema[] {
  return OP_NAMES.flatMap((op) => [
    { file: `ops/${op}.args.json`, title: `${op} args`, description: `Args of the \`${op}\` request. ${OP_SUMMARIES[op]}`, schema: OPS[op].args },
    { file: `ops/${op}.result.json`, title: `${op} result`, description: `Result of a successful \`${op}\` request (the \`result\` of the response).`, schema: OPS[op].result },
  ])
}

export const MESSAGES: readonly MessageSchema[] = [
  {
    file: 'request.json',
    title: 'Request',
    description: 'A vehicle request, published on `voltway/v1/hubs/{hubId}/req/{vehicleId}`. `args` is checked against the op\'s args schema (ops/<op>.args.json).',
    schema: RequestEnvelope,
  },
  {
    file: 'response.json',
    title: 'Response',
    description:
      'The hub\'s answer on `voltway/v1/vehicles/{vehicleId}/res` (or the MQTT 5 Response Topic): `ok: true` with the op\'s result, or `ok: false` with a coded error. `id` echoes the request\'s, or is null when it could not be read.',
    schema: ResponseEnvelope,
  },
  ...opMessages(),
  {
    file: 'station/state.json',
    title: 'Station state',
    description: 'Retained on `voltway/v1/stations/{stationId}/state` (QoS 1); also the station\'s Last Will, with `online: false`.',
    schema: StationState,
  },
  {
    file: 'station/telemetry.json',
    title: 'Station telemetry',
    description: 'On `voltway/v1/stations/{stationId}/telemetry` (QoS 0) every few seconds while charging.',
    schema: Telemetry,
  },
  {
    file: 'station/event.json',
    title: 'Station event',
    description:
      'On `voltway/v1/stations/{stationId}/events` (QoS 1). `seq` grows by one per event and survives restarts; the station sends an event again until the hub acknowledges it.',
    schema: StationEvent,
  },
  {
    file: 'station/ack.json',
    title: 'Station event acknowledgement',
    description: 'From the hub on `voltway/v1/stations/{stationId}/ack` (QoS 1): every event up to and including `seq` is stored.',
    schema: StationAck,
  },
  {
    file: 'station/command.json',
    title: 'Station command',
    description: 'From the hub on `voltway/v1/stations/{stationId}/cmd` (QoS 1).',
    schema: StationCommand,
  },
  {
    file: 'station/command-result.json',
    title: 'Station command result',
    description: 'The station\'s answer on `voltway/v1/stations/{stationId}/cmd/res` (QoS 1), matched by `id`; `meterWh` is the meter reading when the command took effect.',
    schema: StationCommandResult,
  },
  {
    file: 'station/card-auth-request.json',
    title: 'Card authorization request',
    description: 'From the station on `voltway/v1/stations/{stationId}/auth` (QoS 1, an addition): a card was tapped at the charger; may it start a session?',
    schema: CardAuthRequest,
  },
  {
    file: 'station/card-auth-result.json',
    title: 'Card authorization result',
    description: 'The hub\'s answer on `voltway/v1/stations/{stationId}/auth/res` (QoS 1, an addition), matched by `id`: `vehicleId` pays, `expiresAt` bounds the station\'s offline cache.',
    schema: CardAuthResult,
  },
  {
    file: 'hub/state.json',
    title: 'Hub state',
    description: 'Retained on `voltway/v1/hubs/{hubId}/state`; also the hub\'s Last Will, with `online: false`. An addition to the v1 contract (docs/protocol.md).',
    schema: HubState,
  },
  { file: 'federation/hub-info.json', title: 'Federation hub info', description: 'Answer of `GET /federation/v1/hub`.', schema: FedHubInfo },
  {
    file: 'federation/stations-query.json',
    title: 'Federation stations query',
    description: 'Query parameters of `GET /federation/v1/stations` (numbers arrive as strings and are read as numbers).',
    schema: FedStationsQuery,
  },
  { file: 'federation/stations.json', title: 'Federation stations', description: 'Answer of `GET /federation/v1/stations`, as `station.nearest`.', schema: FedStations },
  {
    file: 'federation/hold-request.json',
    title: 'Hold request',
    description: 'Body of `POST /federation/v1/holds`. docs/federation.md lists the optional fields this hub adds.',
    schema: HoldRequest,
  },
  { file: 'federation/hold.json', title: 'Hold', description: 'Answer of `POST /federation/v1/holds` (201).', schema: Hold },
  {
    file: 'federation/hold-confirmation.json',
    title: 'Hold confirmation',
    description: 'Answer of `POST /federation/v1/holds/{holdId}/confirm`: the reservation the hold became.',
    schema: HoldConfirmation,
  },
  { file: 'federation/receipts.json', title: 'Federation receipts', description: 'Answer of `GET /federation/v1/vehicles/{vehicleId}/receipts`.', schema: FedReceipts },
  { file: 'federation/session-start.json', title: 'Roaming session start', description: 'Body of `POST /federation/v1/sessions` (roaming: the home hub starts a session for its vehicle at the called hub).', schema: FedSessionStart },
  { file: 'federation/session-started.json', title: 'Roaming session started', description: 'Answer (201) of `POST /federation/v1/sessions`.', schema: FedSessionStarted },
  { file: 'federation/session.json', title: 'Roaming session', description: 'Answer of `GET /federation/v1/sessions/{sessionId}`.', schema: FedSession },
  { file: 'federation/session-receipt.json', title: 'Roaming receipt', description: 'Answer of `POST /federation/v1/sessions/{sessionId}/stop`: the receipt billed at the called hub\'s price.', schema: FedReceipt },
  { file: 'federation/error.json', title: 'Federation error body', description: 'Body of every error answer of the federation API; `code` is one of docs/error-codes.md.', schema: FedErrorBody },
]

/** The zod schema as JSON Schema 2020-12, without `$schema`, keywords in canonical order. */
export function jsonSchemaOf(schema: z.ZodType): JsonObject {
  const raw = toJson(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }))
  if (!isObject(raw)) throw new TypeError('expected a JSON Schema object')
  const { $schema: _dialect, ...rest } = raw
  return canonicalSchema(rest) as JsonObject
}

export function messageSchema(m: MessageSchema): JsonObject {
  const body: JsonObject = { ...jsonSchemaOf(m.schema), $schema: JSON_SCHEMA_DIALECT, $id: `${SCHEMA_BASE_URL}${m.file}`, title: m.title, description: m.description }
  return canonicalSchema(body) as JsonObject
}

/** `docs/schemas/<file>` -> file content. */
export function renderMessageSchemas(): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of MESSAGES) {
    if (out.has(m.file)) throw new RangeError(`two messages write ${m.file}`)
    out.set(m.file, renderJson(messageSchema(m) as Json))
  }
  return out
}
