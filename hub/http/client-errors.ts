/**
 * Fastify's own refusals of a request, in the hub's error body: each keeps
 * its HTTP status and gets a code and a message in our words that says what
 * to do. They come before any route runs, so nothing changed.
 */
import { VoltwayError } from '../../protocol/index.js'

/** What fastify's error says about itself (a FastifyError: `code` is `FST_ERR_...`). */
export interface FrameworkError {
  code?: string
  statusCode?: number
}

export interface RequestFacts {
  headers: Record<string, string | string[] | undefined>
}

/** At most this much of a value the client sent is quoted back. */
const QUOTED = 80

/** `value` cut to QUOTED characters (a client may send kilobytes). */
export function cut(value: string): string {
  return value.length <= QUOTED ? value : `${value.slice(0, QUOTED)}...`
}

/** `value`, cut, as a JSON string. */
export function quoted(value: string): string {
  return JSON.stringify(cut(value))
}

/**
 * The coded error for one of fastify's client errors (status 4xx), or null
 * for anything else. `bodyLimit` is the server's, in bytes.
 */
export function fastifyClientError(err: FrameworkError, req: RequestFacts, bodyLimit: number): VoltwayError | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyTooLarge(bodyLimit)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new VoltwayError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${quoted(String(req.headers['content-type'] ?? ''))} is not a media type; ${SEND_JSON}`)
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new VoltwayError('BAD_REQUEST', 'body length differs from its Content-Length header; send Content-Length as the length of the body in bytes')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      // Not raised while hub/http/server.ts reads bodies itself; worded as its reader words it.
      return new VoltwayError('BAD_REQUEST', 'body is not valid JSON')
  }
  if (typeof err.statusCode !== 'number' || err.statusCode < 400 || err.statusCode >= 500) return null
  // Any other: a body stream that failed (the client went away while sending it).
  return new VoltwayError('BAD_REQUEST', `the request could not be read (${err.code ?? `HTTP ${err.statusCode}`}); send it again, whole`)
}

/**
 * The coded error for what fastify refuses before it finds the route (its
 * `frameworkErrors`): a URL whose %-escapes do not decode, a path parameter
 * longer than the router's `maxParamLength`. Null for anything else.
 */
export function routingError(err: FrameworkError, url: string, maxParamLength: number): VoltwayError | null {
  const path = quoted(url.split('?')[0] ?? '')
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return new VoltwayError('BAD_REQUEST', `path ${path} is not a valid URL (a %-escape that does not decode); percent-encode it as UTF-8, or leave it out: ids need none`)
    case 'FST_ERR_MAX_PARAM_LENGTH':
      // 400 as for an id of 65 to 200 characters (the route's schema), not fastify's 414: one cause, one answer.
      return new VoltwayError('BAD_REQUEST', `path ${path} has a parameter longer than ${maxParamLength} characters; ${IDS}`)
  }
  return null
}

/** What every path parameter of this hub's routes is. */
const IDS = 'ids in paths are 1 to 64 characters of A-Z, a-z, 0-9, _ and -'

const SEND_JSON = 'send the body as JSON with Content-Type: application/json'

/** 413 PAYLOAD_TOO_LARGE with the limit in KiB. */
export function bodyTooLarge(bodyLimit: number): VoltwayError {
  return new VoltwayError(
    'PAYLOAD_TOO_LARGE',
    `body is larger than ${bodyLimit / 1024} KiB, the most this route reads; send only the fields of the request`,
    { limitBytes: bodyLimit },
  )
}

/**
 * A body sent with a content coding (`Content-Encoding: gzip`, `deflate`, `br`...): this hub reads bodies
 * as sent, so it would be read as JSON and refused as not JSON, a hint that misleads. 415 as RFC 9110
 * §15.5.16 has it for a content coding the server does not take; the answer carries `Accept-Encoding:
 * identity`. Null for a request without a body, or with `identity`.
 */
export function encodedBody(headers: RequestFacts['headers']): VoltwayError | null {
  const coding = String(headers['content-encoding'] ?? '').trim().toLowerCase()
  if (coding === '' || coding === 'identity') return null
  const length = Number(headers['content-length'] ?? 0)
  if (headers['transfer-encoding'] === undefined && !(length > 0)) return null
  return new VoltwayError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${quoted(coding)} is not read by this hub; send the body uncompressed, without a Content-Encoding header`)
}

/** 415 UNSUPPORTED_MEDIA_TYPE for a non-empty body of another Content-Type than JSON. */
export function notJson(type: string): VoltwayError {
  return new VoltwayError('UNSUPPORTED_MEDIA_TYPE', `body must be JSON sent as Content-Type: application/json, not ${cut(type)}`)
}
