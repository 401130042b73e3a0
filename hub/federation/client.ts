/**
 * Calling the other hubs (docs/protocol.md "HTTP federation between hubs") on
 * undici: one keep-alive BalancedPool per peer over the peer's `urls` (its
 * replicas; one url is a pool of one), connect and header/body timeouts, and
 * retries with exponential backoff through undici's own retry interceptor,
 * used only for calls that are safe to repeat (GET, DELETE, and POSTs that
 * carry an Idempotency-Key, which the peer's server deduplicates).
 *
 * Replicas: the BalancedPool spreads calls over the urls (weighted round
 * robin) and lowers the weight of one whose connections fail, and a retry
 * goes through the BalancedPool again, so it lands on the next replica: one
 * dead replica of a peer costs a retry, not the call. A connection that was
 * refused or never set up carried nothing, so even a call that is not safe to
 * repeat is sent again on another replica then.
 *
 * Every answer is validated with the protocol schemas. A network failure,
 * a timeout or an answer that makes no sense is VoltwayError
 * PEER_UNAVAILABLE with `{hubId}`; a peer's coded error comes back as a
 * VoltwayError with the peer's code (and `hubId` added to its details).
 *
 * An `https` peer is checked as TLS does (RFC 9110 section 4.3.4): its
 * certificate must chain to the peer's `ca` (or the system's CAs) and name the
 * host of its `url`; a peer entry with `cert`/`key` presents them for mutual
 * TLS. A refused handshake is PEER_UNAVAILABLE with `{tls: true}` and a hint.
 */
import type { Logger } from 'pino'
import { BalancedPool, interceptors, type Dispatcher } from 'undici'
import type { z } from 'zod'
import {
  FedErrorBody,
  FedHubInfo,
  FedReceipts,
  FedStations,
  Hold,
  HoldConfirmation,
  VoltwayError,
  isErrorCode,
  isTlsErrorCode,
  readTlsMaterial,
  parseJsonObject,
  type HoldRequest,
  type Receipt,
} from '../../protocol/index.js'
import { peerUrls } from '../config.js'
import { observeCall, type PeerCallObserver } from './call-observer.js'

export interface PeerEndpoint {
  hubId: string
  /** Base URL, e.g. `http://127.0.0.1:8026` (a path prefix is kept). Give this or `urls`. */
  url?: string | undefined
  /**
   * Base URLs of the peer's replicas, e.g. `["http://10.0.0.5:8026", "http://10.0.0.6:8026"]`:
   * calls are spread over them and fail over. They differ only in host and port
   * (the path and scheme of the first are used for all).
   */
  urls?: readonly string[] | undefined
  /** Bearer token this hub sends to that peer. */
  token: string
  /** PEM file of the CA to trust for an https `url` (default: the system's CAs). */
  ca?: string | undefined
  /** PEM files of the client certificate and key presented for mutual TLS. */
  cert?: string | undefined
  key?: string | undefined
}

export interface FederationClientOptions {
  peers: readonly PeerEndpoint[]
  logger: Logger
  /** TCP (and TLS) connect timeout. Default 2000 ms. */
  connectTimeoutMs?: number
  /** Deadline of an ordinary call (connect, retries, headers and body). Default 5000 ms. */
  requestTimeoutMs?: number
  /** Keep-alive connections per peer url. Default 32. */
  connections?: number
  /** Idle keep-alive sockets close after this. Default 30 s. */
  keepAliveTimeoutMs?: number
  /**
   * Retries of an idempotent call after a connection error or a 5xx/429 answer, and of any call whose
   * connection was refused. Default 2 (so 3 tries), at least the number of urls less one when higher.
   */
  maxRetries?: number
  /** First backoff; doubles per retry up to maxRetryDelayMs. Default 50 ms. */
  minRetryDelayMs?: number
  maxRetryDelayMs?: number
  /** Told of every call once it ends (./call-observer.ts). */
  onCall?: PeerCallObserver
}

interface Peer {
  hubId: string
  https: boolean
  base: string
  auth: string
  pool: BalancedPool
  /** For calls safe to repeat. */
  retrying: Dispatcher
  /** For the others: only a connection that carried nothing is tried again. */
  unsent: Dispatcher
}

export interface PeerCall<S extends z.ZodType | null> {
  method: 'GET' | 'POST' | 'DELETE'
  path: string
  body?: unknown
  idempotencyKey?: string
  /** Schema of a 2xx body; null when the answer has no body (204). */
  schema: S
  timeoutMs?: number
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024

export class FederationClient {
  readonly #peers = new Map<string, Peer>()
  readonly #log: Logger
  readonly #timeoutMs: number
  readonly #onCall: PeerCallObserver | undefined

  constructor(opts: FederationClientOptions) {
    this.#onCall = opts.onCall
    this.#log = opts.logger.child({ component: 'federation-client' })
    this.#timeoutMs = opts.requestTimeoutMs ?? 5000
    opts.peers.forEach((p, i) => {
      const urls = peerUrls(p).map((u) => new URL(u))
      const first = urls[0]
      if (!first) throw new VoltwayError('INTERNAL', `federation peer ${p.hubId} has neither url nor urls`, { hubId: p.hubId })
      // Read now, so a bad file stops the hub at start (exit 2) rather than failing every call.
      const tls = readTlsMaterial(`hub.json: federation.peers[${i}]`, p)
      // Each url gets a Pool with these options; TLS checks each replica's certificate against its own host.
      const pool = new BalancedPool(
        urls.map((u) => u.origin),
        {
          ...(Object.keys(tls).length > 0 ? { connect: tls } : {}),
          connections: opts.connections ?? 32,
          connectTimeout: opts.connectTimeoutMs ?? 2000,
          headersTimeout: this.#timeoutMs,
          bodyTimeout: this.#timeoutMs,
          keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
          maxResponseSize: MAX_RESPONSE_BYTES,
        },
      )
      // With replicas, every other one gets a try before the call fails.
      const maxRetries = Math.max(opts.maxRetries ?? 2, urls.length - 1)
      const backoff = { maxRetries, minTimeout: opts.minRetryDelayMs ?? 50, maxTimeout: opts.maxRetryDelayMs ?? 1000, timeoutFactor: 2, throwOnError: false }
      // Only connection errors and 5xx/429 are retried; a timeout is not (a peer that does not
      // answer would only make us wait again), nor is any other coded answer. A connect timeout is,
      // when there is another replica to try: nothing was sent.
      const retrying = pool.compose(
        interceptors.retry({
          ...backoff,
          methods: ['GET', 'DELETE', 'POST'],
          statusCodes: [500, 502, 503, 504, 429],
          errorCodes: [...CONNECTION_ERRORS, ...(urls.length > 1 ? ['UND_ERR_CONNECT_TIMEOUT'] : [])],
        }),
      )
      const unsent = pool.compose(
        interceptors.retry({ ...backoff, methods: ['GET', 'DELETE', 'POST'], statusCodes: [], errorCodes: [...NOTHING_SENT, ...(urls.length > 1 ? ['UND_ERR_CONNECT_TIMEOUT'] : [])] }),
      )
      const https = first.protocol === 'https:'
      this.#peers.set(p.hubId, { hubId: p.hubId, https, base: first.pathname.replace(/\/+$/, ''), auth: `Bearer ${p.token}`, pool, retrying, unsent })
    })
  }

  has(hubId: string): boolean {
    return this.#peers.has(hubId)
  }

  get peerIds(): string[] {
    return [...this.#peers.keys()]
  }

  hubInfo(hubId: string, opts: { timeoutMs?: number } = {}): Promise<FedHubInfo> {
    return this.#call(hubId, { method: 'GET', path: '/federation/v1/hub', schema: FedHubInfo, ...opts })
  }

  stations(hubId: string, q: { lat: number; lon: number; rangeKm: number; at?: string; limit?: number }): Promise<FedStations> {
    const qs = new URLSearchParams({ lat: String(q.lat), lon: String(q.lon), rangeKm: String(q.rangeKm) })
    if (q.at !== undefined) qs.set('at', q.at)
    if (q.limit !== undefined) qs.set('limit', String(q.limit))
    return this.#call(hubId, { method: 'GET', path: `/federation/v1/stations?${qs.toString()}`, schema: FedStations })
  }

  /** POST /holds. `timeoutMs` should cover the wait-die wait the request allows (`maxWaitMs`). */
  placeHold(hubId: string, req: HoldRequest, idempotencyKey: string, opts: { timeoutMs?: number } = {}): Promise<Hold> {
    return this.#call(hubId, { method: 'POST', path: '/federation/v1/holds', body: req, idempotencyKey, schema: Hold, ...opts })
  }

  confirmHold(hubId: string, holdId: string, idempotencyKey: string): Promise<HoldConfirmation> {
    const path = `/federation/v1/holds/${encodeURIComponent(holdId)}/confirm`
    return this.#call(hubId, { method: 'POST', path, body: {}, idempotencyKey, schema: HoldConfirmation })
  }

  async releaseHold(hubId: string, holdId: string, idempotencyKey: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.#call(hubId, { method: 'DELETE', path: `/federation/v1/holds/${encodeURIComponent(holdId)}`, idempotencyKey, schema: null, ...opts })
  }

  async cancelReservation(hubId: string, reservationId: string, idempotencyKey: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    const path = `/federation/v1/reservations/${encodeURIComponent(reservationId)}`
    await this.#call(hubId, { method: 'DELETE', path, idempotencyKey, schema: null, ...opts })
  }

  async receipts(hubId: string, vehicleId: string, opts: { timeoutMs?: number } = {}): Promise<Receipt[]> {
    const path = `/federation/v1/vehicles/${encodeURIComponent(vehicleId)}/receipts`
    return (await this.#call(hubId, { method: 'GET', path, schema: FedReceipts, ...opts })).receipts
  }

  /** Close every pool; calls still running are aborted. */
  async close(): Promise<void> {
    const pools = [...this.#peers.values()].map((p) => p.pool)
    this.#peers.clear()
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)))
  }

  /**
   * One call to a peer: the building block of the methods above. Retried
   * only when idempotent (GET, DELETE, or with an Idempotency-Key).
   */
  request<S extends z.ZodType | null>(hubId: string, call: PeerCall<S>): Promise<S extends z.ZodType ? z.output<S> : undefined> {
    return this.#call(hubId, call)
  }

  #call<S extends z.ZodType | null>(hubId: string, call: PeerCall<S>): Promise<S extends z.ZodType ? z.output<S> : undefined> {
    return this.#peers.has(hubId) ? observeCall(this.#onCall, hubId, call, (onStatus) => this.#send(hubId, call, onStatus)) : this.#send(hubId, call, () => undefined)
  }

  async #send<S extends z.ZodType | null>(hubId: string, call: PeerCall<S>, onStatus: (status: number) => void): Promise<S extends z.ZodType ? z.output<S> : undefined> {
    const peer = this.#peers.get(hubId)
    if (!peer) throw new VoltwayError('PEER_UNAVAILABLE', `hub ${hubId} is not a peer of this hub`, { hubId })
    const headers: Record<string, string> = { authorization: peer.auth, accept: 'application/json' }
    let body: string | undefined
    if (call.body !== undefined) {
      body = JSON.stringify(call.body)
      headers['content-type'] = 'application/json'
    }
    if (call.idempotencyKey !== undefined) headers['idempotency-key'] = call.idempotencyKey
    const idempotent = call.method !== 'POST' || call.idempotencyKey !== undefined
    const timeout = call.timeoutMs ?? this.#timeoutMs
    let status: number
    let text: string
    // undici's own timeouts tick coarsely (fast timers, ~0.5 s); this deadline is exact and also
    // bounds the retries and the body. Cleared when the call ends: AbortSignal.timeout's timer
    // would fire for every call, long after it answered, building an abort error each time.
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(new DOMException('the peer call timed out', 'TimeoutError')), timeout)
    timer.unref()
    try {
      const res = await (idempotent ? peer.retrying : peer.unsent).request({
        path: `${peer.base}${call.path}`,
        method: call.method,
        headers,
        body,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: deadline.signal,
      })
      status = res.statusCode
      onStatus(status)
      text = await res.body.text()
    } catch (err) {
      const code = isTimeout(err) ? 'TIMEOUT' : typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'UNKNOWN'
      this.#log.debug({ hubId, method: call.method, path: call.path, code }, 'peer call failed')
      if (isTlsErrorCode(code)) {
        this.#log.warn({ hubId, code }, 'TLS handshake with peer failed')
        throw new VoltwayError('PEER_UNAVAILABLE', `hub ${hubId}: TLS handshake failed (${code}); ${TLS_HINT}`, { hubId, cause: code, tls: true })
      }
      if (peer.https && closedUnanswered(err)) {
        // TLS 1.3 checks the client certificate after the client's handshake ends: a peer that
        // requires one and got none closes the socket on the first request, often before its alert is read.
        this.#log.warn({ hubId, code }, 'peer closed the TLS connection before answering')
        throw new VoltwayError('PEER_UNAVAILABLE', `hub ${hubId} closed the TLS connection before answering (${code}); ${TLS_HINT}`, { hubId, cause: code, tls: true })
      }
      throw new VoltwayError('PEER_UNAVAILABLE', `hub ${hubId} did not answer (${code})`, { hubId, cause: code })
    } finally {
      clearTimeout(timer)
    }
    if (status >= 200 && status < 300) {
      if (call.schema === null) return undefined as S extends z.ZodType ? z.output<S> : undefined
      const json = parseJsonObject(text, MAX_RESPONSE_BYTES)
      const parsed = json.ok ? call.schema.safeParse(json.value) : null
      if (!parsed?.success) throw badAnswer(hubId, status, call)
      return parsed.data as S extends z.ZodType ? z.output<S> : undefined
    }
    const json = parseJsonObject(text, MAX_RESPONSE_BYTES)
    const coded = json.ok ? FedErrorBody.safeParse(json.value) : null
    if (coded?.success) {
      const { code, message, details } = coded.data.error
      if (isErrorCode(code)) throw new VoltwayError(code, message, { ...(details ?? {}), hubId })
    }
    throw badAnswer(hubId, status, call)
  }
}

/** undici's retry interceptor's own list: the connection failed or broke. */
const CONNECTION_ERRORS = ['ECONNRESET', 'ECONNREFUSED', 'ENOTFOUND', 'ENETDOWN', 'ENETUNREACH', 'EHOSTDOWN', 'EHOSTUNREACH', 'EPIPE', 'UND_ERR_SOCKET']
/** Failures before a connection existed: the request cannot have reached the peer (a connect timeout too, added where there is another url). */
const NOTHING_SENT = ['ECONNREFUSED', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'EHOSTDOWN']

const TLS_HINT =
  'TLS: the peer\'s certificate must be signed by the CA in its "ca" and name the host of its "url"; if it requires a client certificate, give "cert" and "key" (docs/operator-guide.md "TLS")'

/** The socket closed before a byte of the answer came back. */
function closedUnanswered(err: unknown): boolean {
  const e = err as { code?: string; socket?: { bytesRead?: number } }
  return (e.code === 'UND_ERR_SOCKET' || e.code === 'ECONNRESET') && e.socket?.bytesRead === 0
}

function isTimeout(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return err.name === 'TimeoutError' || ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'].includes((err as { code?: string }).code ?? '')
}

function badAnswer(hubId: string, status: number, call: { method: string; path: string }): VoltwayError {
  return new VoltwayError('PEER_UNAVAILABLE', `hub ${hubId} gave an unexpected answer (${status}) to ${call.method} ${call.path.split('?')[0] ?? ''}`, {
    hubId,
    status,
  })
}
