/**
 * What Node's HTTP server refuses on a connection before fastify sees a
 * request (its `clientError`): a request that did not arrive within the
 * header or request timeout (408), headers over Node's size limit (431), bytes
 * that are not HTTP/1.1 (400). Answered in the hub's error body, with a
 * message that says what to do, when the socket can still take it; then the
 * connection is closed. No route ran for a request answered so: nothing changed.
 */
import { STATUS_CODES, maxHeaderSize, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { HTTP_STATUS, VoltwayError } from '../../protocol/index.js'
import type { HttpLimits } from './limits.js'

/** fastify's `clientErrorHandler`: answer `err` on `socket` in the envelope, then close it. */
export function connectionErrorHandler(limits: HttpLimits, log: Logger): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    // A reset connection has nobody to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    // The response under way on the connection, if any (Node keeps it on the socket, and sets it to null
    // once that response is written), and the request being read: the last one whose headers came (Node's
    // parser keeps it), unfinished while its body is still coming.
    const res = (socket as { _httpMessage?: ServerResponse | null })._httpMessage ?? null
    const reading = (socket as { parser?: { incoming?: { complete?: boolean } | null } | null }).parser?.incoming ?? null
    const bodyPending = reading !== null && reading.complete === false
    const refused = connectionError(err.code, bodyPending, limits)
    log.debug({ code: err.code, answer: refused.code }, 'http client error')
    if (!bodyPending && res !== null && socket.writable) {
      // The bad bytes came after a whole request whose answer is still being written: that request ran,
      // or is running, so "nothing changed" in its place would be false, and its own answer is the only
      // one the caller can learn from whether it ran. It is let finish; nothing more is read, and the
      // connection closes after it.
      socket.pause()
      if (res.headersSent !== true) res.shouldKeepAlive = false
      res.once('finish', () => socket.end())
      return
    }
    // Answered only when the refusal is the answer of the request it is about, and nothing was answered
    // in its place: a request whose body is still coming, whose response is the one under way and not
    // started (no route ran); or a request whose headers did not come, on a connection with no response
    // under way (a fresh or idle one). A request already answered (a 401 before its body came) must not
    // get a second answer. Then the connection is closed, as Node does with a response already started.
    const answerable = bodyPending ? res !== null && res.req === reading && res.headersSent !== true : res === null
    if (socket.writable && answerable) {
      const status = HTTP_STATUS[refused.code]
      const body = JSON.stringify({ error: refused.toWire() })
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    }
    socket.destroy(err)
  }
}

/** Node's limit on a request's chunk extensions, bytes (node:http, since the fix of CVE-2024-22019; not configurable). */
const CHUNK_EXTENSIONS_LIMIT = 16 * 1024

/**
 * The coded error for a `clientError` of code `code`. `headersCame`: the
 * request's headers had arrived (so a timeout is its body's).
 */
export function connectionError(code: string | undefined, headersCame: boolean, limits: HttpLimits): VoltwayError {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT': {
      const details = { headersTimeoutMs: limits.headersTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs }
      return headersCame
        ? new VoltwayError('REQUEST_TIMEOUT', `request body did not arrive within ${duration(limits.requestTimeoutMs)} of the request's start; send the request again with a body exactly as long as its Content-Length`, details)
        : new VoltwayError('REQUEST_TIMEOUT', `request headers did not arrive within ${duration(limits.headersTimeoutMs)}; send the request again, its headers in one go`, details)
    }
    case 'HPE_HEADER_OVERFLOW':
      return new VoltwayError(
        'HEADERS_TOO_LARGE',
        `request headers are larger than ${maxHeaderSize / 1024} KiB, the most this hub reads; send only the headers the call needs (Authorization, Content-Type, Idempotency-Key)`,
        { limitBytes: maxHeaderSize },
      )
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new VoltwayError(
        'PAYLOAD_TOO_LARGE',
        `the chunk extensions of the body are larger than ${CHUNK_EXTENSIONS_LIMIT / 1024} KiB, the most this hub reads; send the body with a Content-Length, or in chunks without extensions`,
        { limitBytes: CHUNK_EXTENSIONS_LIMIT },
      )
    default:
      return new VoltwayError('BAD_REQUEST', `request is not valid HTTP/1.1 (${code ?? 'unreadable'}); send a well-formed request (method, path, HTTP/1.1, a Host header, CRLF line ends)`)
  }
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`
}
