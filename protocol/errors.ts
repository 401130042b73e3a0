/**
 * Wire error codes (docs/protocol.md) and the one error class that carries them.
 * The code is the contract; the message is for humans.
 */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'UNKNOWN_OP',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'NO_STATION_AVAILABLE',
  'RESERVATION_CONFLICT',
  'TOO_SOON',
  'OUT_OF_RANGE',
  'STATION_OFFLINE',
  'STATION_BUSY',
  'RESERVED_BY_OTHER',
  'PEER_UNAVAILABLE',
  'ROUTE_FAILED',
  'TIMEOUT',
  'INTERNAL',
  // Additions (docs/protocol.md allows new codes): idempotency rules of the federation API.
  'IDEMPOTENCY_KEY_MISSING',
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_IN_PROGRESS',
  'HOLD_EXPIRED',
  'METER_FAULT',
  'STORAGE_UNAVAILABLE',
  'RATE_LIMITED',
  // Addition: cards at the charger (docs/protocol.md).
  'CARD_UNKNOWN',
  // Additions: accounts and station enrollment (docs/configuration.md "Accounts").
  'ACCOUNT_EXISTS',
  'ENROLLMENT_REFUSED',
  // Additions: what one vehicle may book at a hub (docs/protocol.md "Reservation rules").
  'TOO_FAR_AHEAD',
  'RESERVATION_LIMIT',
  // Additions: HTTP requests the hub's server refuses before any route reads them (docs/federation.md "The API").
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  // Addition: an answer the hub's external broker would not take (docs/operator-guide.md section 5, "Packet sizes").
  'ANSWER_TOO_LARGE',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** HTTP status for each code when it crosses the federation API. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNKNOWN_OP: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  NO_STATION_AVAILABLE: 409,
  RESERVATION_CONFLICT: 409,
  TOO_SOON: 422,
  OUT_OF_RANGE: 422,
  STATION_OFFLINE: 409,
  STATION_BUSY: 409,
  RESERVED_BY_OTHER: 409,
  PEER_UNAVAILABLE: 502,
  ROUTE_FAILED: 409,
  TIMEOUT: 504,
  INTERNAL: 500,
  IDEMPOTENCY_KEY_MISSING: 400,
  IDEMPOTENCY_KEY_REUSED: 422,
  IDEMPOTENCY_IN_PROGRESS: 409,
  HOLD_EXPIRED: 410,
  METER_FAULT: 409,
  STORAGE_UNAVAILABLE: 503,
  RATE_LIMITED: 429,
  CARD_UNKNOWN: 403,
  ACCOUNT_EXISTS: 409,
  ENROLLMENT_REFUSED: 403,
  TOO_FAR_AHEAD: 422,
  RESERVATION_LIMIT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  ANSWER_TOO_LARGE: 500,
}

/**
 * Whether an answer with HTTP `status` is kept under its idempotency key (a
 * vehicle's request id, a peer's Idempotency-Key) and answered again to every
 * repeat. Not kept: a server-side failure (5xx: a repeat runs afresh) and 409
 * IDEMPOTENCY_IN_PROGRESS, which says "ask again" rather than how the request
 * ended (the same request, or the trip or hold it names, was still running):
 * kept, it would be the only answer the id ever gets again.
 */
export function answerIsKept(status: number, code?: ErrorCode): boolean {
  return status < 500 && code !== 'IDEMPOTENCY_IN_PROGRESS'
}

export type ErrorDetails = Record<string, unknown>

export class VoltwayError extends Error {
  readonly code: ErrorCode
  readonly details: ErrorDetails | undefined

  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(message)
    this.name = 'VoltwayError'
    this.code = code
    this.details = details
  }

  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }
}

export interface WireError {
  code: ErrorCode
  message: string
  details?: ErrorDetails
}

export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && (ERROR_CODES as readonly string[]).includes(s)
}

/** Any thrown value as a VoltwayError; unknown errors become INTERNAL without leaking internals. */
export function toVoltwayError(err: unknown): VoltwayError {
  if (err instanceof VoltwayError) return err
  return new VoltwayError('INTERNAL', 'internal error')
}
