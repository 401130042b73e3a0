/**
 * The federation API of docs/protocol.md as a table (one row per route), and the
 * OpenAPI 3.1 document built from it. Bodies are the zod schemas of
 * protocol/schemas/federation.ts; statuses of errors come from HTTP_STATUS.
 */
import type { z } from 'zod'
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
  HTTP_STATUS,
  Hold,
  HoldConfirmation,
  HoldRequest,
  Id,
  type ErrorCode,
} from '../../protocol/index.js'
import { JSON_SCHEMA_DIALECT, jsonSchemaOf } from './messages.js'
import { isObject, type Json, type JsonObject } from './json.js'

export const FEDERATION_COMPONENTS = {
  HubInfo: FedHubInfo,
  Stations: FedStations,
  HoldRequest,
  Hold,
  HoldConfirmation,
  Receipts: FedReceipts,
  SessionStart: FedSessionStart,
  SessionStarted: FedSessionStarted,
  Session: FedSession,
  Receipt: FedReceipt,
  ErrorBody: FedErrorBody,
} as const satisfies Record<string, z.ZodType>

export type ComponentName = keyof typeof FEDERATION_COMPONENTS

export interface FedEndpoint {
  method: 'get' | 'post' | 'delete'
  /** OpenAPI path template. */
  path: string
  operationId: string
  summary: string
  description: string
  /** Needs the bearer token (every route but /healthz). */
  auth: boolean
  /** Carries a required Idempotency-Key header. */
  mutating: boolean
  pathParams: ReadonlyArray<{ name: string; description: string }>
  /** Query parameters from FedStationsQuery. */
  stationsQuery?: true
  body?: ComponentName
  success: { status: number; description: string; body?: ComponentName | 'Health' }
  /** Codes beyond the ones every route of its kind can answer (see `errorsOf`). */
  errors: readonly ErrorCode[]
}

export const FEDERATION_ENDPOINTS: readonly FedEndpoint[] = [
  {
    method: 'get',
    path: '/federation/v1/hub',
    operationId: 'getHub',
    summary: "The called hub's identity and size",
    description: 'Peers use it to name the hops of a route.',
    auth: true,
    mutating: false,
    pathParams: [],
    success: { status: 200, description: 'The hub', body: 'HubInfo' },
    errors: [],
  },
  {
    method: 'get',
    path: '/federation/v1/stations',
    operationId: 'getStations',
    summary: 'Nearest stations, as station.nearest',
    description: 'Stations within `rangeKm` of (`lat`, `lon`), nearest first; `free` is about `at` (default now).',
    auth: true,
    mutating: false,
    pathParams: [],
    stationsQuery: true,
    success: { status: 200, description: 'The stations in range', body: 'Stations' },
    errors: ['BAD_REQUEST'],
  },
  {
    method: 'post',
    path: '/federation/v1/holds',
    operationId: 'placeHold',
    summary: 'Hold the nearest free station for a trip hop',
    description:
      'Places a hold on the nearest station within `rangeKm` of `from` that is free at `at`. The hold blocks its station like a reservation until it is confirmed, released, or its TTL runs out. Contended holds are ordered by `txStartedAt` (wait-die); see docs/federation.md.',
    auth: true,
    mutating: true,
    pathParams: [],
    body: 'HoldRequest',
    success: { status: 201, description: 'The hold', body: 'Hold' },
    errors: ['BAD_REQUEST', 'TOO_SOON', 'TOO_FAR_AHEAD', 'RESERVATION_LIMIT', 'OUT_OF_RANGE', 'NO_STATION_AVAILABLE', 'HOLD_EXPIRED'],
  },
  {
    method: 'post',
    path: '/federation/v1/holds/{holdId}/confirm',
    operationId: 'confirmHold',
    summary: 'Turn a hold into a reservation',
    description: 'Idempotent. A hold past its TTL is confirmed only when its station is still free at its time.',
    auth: true,
    mutating: true,
    pathParams: [{ name: 'holdId', description: 'The hold to confirm' }],
    success: { status: 200, description: 'The reservation', body: 'HoldConfirmation' },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'HOLD_EXPIRED'],
  },
  {
    method: 'delete',
    path: '/federation/v1/holds/{holdId}',
    operationId: 'releaseHold',
    summary: 'Release a hold',
    description: 'Also 204 when the hold is already gone or was never placed; a later attempt to place it is refused.',
    auth: true,
    mutating: true,
    pathParams: [{ name: 'holdId', description: 'The hold to release' }],
    success: { status: 204, description: 'Released (or already gone)' },
    errors: ['BAD_REQUEST'],
  },
  {
    method: 'delete',
    path: '/federation/v1/reservations/{reservationId}',
    operationId: 'cancelReservation',
    summary: 'Cancel a reservation made from a hold',
    description: 'Also 204 when the reservation is already gone.',
    auth: true,
    mutating: true,
    pathParams: [{ name: 'reservationId', description: 'The reservation to cancel' }],
    success: { status: 204, description: 'Cancelled (or already gone)' },
    errors: ['BAD_REQUEST', 'NOT_FOUND'],
  },
  {
    method: 'get',
    path: '/federation/v1/vehicles/{vehicleId}/receipts',
    operationId: 'getReceipts',
    summary: "A vehicle's receipts at the called hub",
    description: 'Used by `history.list` to gather receipts from every hub of the federation.',
    auth: true,
    mutating: false,
    pathParams: [{ name: 'vehicleId', description: 'The vehicle' }],
    success: { status: 200, description: 'The receipts', body: 'Receipts' },
    errors: ['BAD_REQUEST'],
  },
  {
    method: 'post',
    path: '/federation/v1/sessions',
    operationId: 'startRoamingSession',
    summary: "Start charging at the called hub's station for one of the calling peer's vehicles (roaming)",
    description:
      "The caller is the vehicle's home hub (the eMSP, as in OCPI's Commands module); the called hub (the CPO) trusts it for its own vehicles and checks the station's rules (online, busy, reservations) as for a local vehicle. The session belongs to the pair (calling hub, vehicleId).",
    auth: true,
    mutating: true,
    pathParams: [],
    body: 'SessionStart',
    success: { status: 201, description: 'The session started', body: 'SessionStarted' },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'STATION_OFFLINE', 'STATION_BUSY', 'RESERVED_BY_OTHER', 'METER_FAULT', 'TIMEOUT'],
  },
  {
    method: 'get',
    path: '/federation/v1/sessions/{sessionId}',
    operationId: 'getRoamingSession',
    summary: "One of the calling peer's sessions: energy, power and cost so far",
    description: "NOT_FOUND also for another peer's session (it is not revealed).",
    auth: true,
    mutating: false,
    pathParams: [{ name: 'sessionId', description: 'The session' }],
    success: { status: 200, description: 'The session', body: 'Session' },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'METER_FAULT'],
  },
  {
    method: 'post',
    path: '/federation/v1/sessions/{sessionId}/stop',
    operationId: 'stopRoamingSession',
    summary: 'Stop a roaming session and bill it at the called hub\'s price',
    description: 'A stopped session answers its receipt again. The receipt names the vehicle by its id at its home hub.',
    auth: true,
    mutating: true,
    pathParams: [{ name: 'sessionId', description: 'The session' }],
    success: { status: 200, description: 'The receipt', body: 'Receipt' },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'STATION_OFFLINE', 'STATION_BUSY', 'METER_FAULT', 'TIMEOUT'],
  },
  {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    summary: 'Liveness of the hub and its parts',
    description: 'Needs no token. 200 when every part is up, 503 otherwise; each part is named with true or false.',
    auth: false,
    mutating: false,
    pathParams: [],
    success: { status: 200, description: 'Every part is up', body: 'Health' },
    errors: [],
  },
]

/** Every code a route may answer, in ERROR_CODES order of first mention. */
export function errorsOf(e: FedEndpoint): ErrorCode[] {
  const codes: ErrorCode[] = [...e.errors]
  if (e.auth) codes.push('UNAUTHORIZED')
  if (e.mutating) codes.push('BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'IDEMPOTENCY_KEY_MISSING', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_IN_PROGRESS')
  if (e.auth) codes.push('INTERNAL')
  // Refused on the connection, before any route: bytes that are not HTTP/1.1, headers or a whole request
  // that came too slowly, headers over the size limit, chunk extensions over Node's 16 KiB, which any
  // request may send, a GET too (hub/http/connection-errors.ts).
  codes.push('BAD_REQUEST', 'REQUEST_TIMEOUT', 'HEADERS_TOO_LARGE', 'PAYLOAD_TOO_LARGE')
  return [...new Set(codes)]
}

export function endpointLabel(e: FedEndpoint): string {
  return `${e.method.toUpperCase()} ${e.path}`
}

const HEALTH_SCHEMA: JsonObject = {
  type: 'object',
  description: '`ok` and one boolean per part (`broker`, `database`, `http`).',
  properties: { ok: { type: 'boolean' } },
  required: ['ok'],
  additionalProperties: { type: 'boolean' },
}

/** Visible ASCII, 1 to 255 characters: what the hub accepts (the IETF draft's key without the quotes). */
const IDEMPOTENCY_KEY_SCHEMA: JsonObject = { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' }

function ref(name: string, kind = 'schemas'): JsonObject {
  return { $ref: `#/components/${kind}/${name}` }
}

function json(schema: JsonObject): JsonObject {
  return { 'application/json': { schema } }
}

function errorResponses(e: FedEndpoint): JsonObject {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of errorsOf(e)) {
    const status = HTTP_STATUS[code]
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  const out: JsonObject = {}
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const codes = byStatus.get(status) ?? []
    out[String(status)] = {
      description: `Refused with ${codes.join(', ')} (see docs/error-codes.md)`,
      'x-error-codes': codes,
      content: json(ref('ErrorBody')),
    }
  }
  return out
}

function queryParameters(): Json[] {
  const schema = jsonSchemaOf(FedStationsQuery)
  const props = schema.properties
  const required = Array.isArray(schema.required) ? schema.required : []
  if (!isObject(props)) throw new TypeError('FedStationsQuery must be an object schema')
  return Object.entries(props).map(([name, s]) => ({ name, in: 'query', required: required.includes(name), schema: s }))
}

function operation(e: FedEndpoint): JsonObject {
  const parameters: Json[] = e.pathParams.map((p) => ({ name: p.name, in: 'path', required: true, description: p.description, schema: jsonSchemaOf(Id) }))
  if (e.stationsQuery) parameters.push(...queryParameters())
  if (e.mutating) parameters.push(ref('IdempotencyKey', 'parameters'))

  const responses: JsonObject = {}
  const success: JsonObject = { description: e.success.description }
  if (e.success.body !== undefined) success.content = json(ref(e.success.body))
  responses[String(e.success.status)] = success
  Object.assign(responses, errorResponses(e))
  if (e.path === '/healthz') responses['503'] = { description: 'A part is down', content: json(ref('Health')) }

  const op: JsonObject = { operationId: e.operationId, summary: e.summary, description: e.description }
  if (!e.auth) op.security = []
  if (parameters.length > 0) op.parameters = parameters
  if (e.body !== undefined) op.requestBody = { required: true, content: json(ref(e.body)) }
  op.responses = responses
  return op
}

export function buildOpenApi(): JsonObject {
  const paths: JsonObject = {}
  for (const e of FEDERATION_ENDPOINTS) {
    const item = paths[e.path]
    const ops: JsonObject = isObject(item) ? item : {}
    ops[e.method] = operation(e)
    paths[e.path] = ops
  }
  const schemas: JsonObject = {}
  for (const [name, schema] of Object.entries(FEDERATION_COMPONENTS)) schemas[name] = jsonSchemaOf(schema)
  schemas.Health = HEALTH_SCHEMA
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: JSON_SCHEMA_DIALECT,
    info: {
      title: 'Voltway federation API',
      version: 'v1',
      summary: 'How the hubs of a Voltway federation call each other (docs/protocol.md, "Federation between hubs").',
      description:
        'Generated by scripts/gen-docs.ts from protocol/schemas/federation.ts and protocol/errors.ts. Every route but /healthz needs `Authorization: Bearer <token>`; the token names the calling peer. Mutating routes need an `Idempotency-Key`: repeating a request with the same key returns the first answer and changes nothing. See docs/federation.md for holds, tombstones and wait-die.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas,
      parameters: {
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: true,
          description:
            'One key per logical operation, the same on each retry of it. Missing: 400 IDEMPOTENCY_KEY_MISSING; reused with a different request: 422 IDEMPOTENCY_KEY_REUSED; reused while the first request runs: 409 IDEMPOTENCY_IN_PROGRESS.',
          schema: IDEMPOTENCY_KEY_SCHEMA,
        },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The per-peer token the called hub has for the calling hub.' },
      },
    },
  }
}
