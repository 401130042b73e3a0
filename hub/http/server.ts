/**
 * The hub's HTTP side (fastify): `/healthz`, `/metrics`, and the federation
 * API under `/federation/v1` behind per-peer bearer tokens. Federation routes
 * are plugged in by their own modules through `federationRoutes`; each runs
 * inside one encapsulated scope whose hook checks the token, so the route
 * that actually runs decides, however its path was spelled.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { HTTP_STATUS, MAX_MESSAGE_BYTES, VoltwayError, parseJsonObject, type ErrorCode, type TlsMaterial } from '../../protocol/index.js'
import type { HubMetrics } from '../metrics.js'
import { cut, encodedBody, fastifyClientError, notJson, routingError, type FrameworkError } from './client-errors.js'
import { connectionErrorHandler } from './connection-errors.js'
import { PeerAuthenticator, type PeerToken } from './federation-auth.js'
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './limits.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The calling peer's hub id, set by the bearer-token check of the federation scope. */
    peerHubId?: string
  }
}

export const FEDERATION_PREFIX = '/federation/v1'

/** A federation call without a token, or with one no peer has: what the caller's operator checks. */
const NO_TOKEN = 'missing bearer token; send Authorization: Bearer <token>, the token your hub has for this hub (federation.peers[].token)'
const UNKNOWN_TOKEN = 'unknown bearer token; your hub\'s federation.peers[].token for this hub must equal this hub\'s federation.peers[].acceptToken for yours'

/** The most a request body may take, in bytes (docs/operator-guide.md "Connection limits"). */
const BODY_LIMIT = MAX_MESSAGE_BYTES
/** The longest path parameter the router takes (ids are at most 64 characters; a longer one up to this is the route's BAD_REQUEST). */
const MAX_PARAM_LENGTH = 200

export interface HttpServerOptions {
  logger: Logger
  metrics: HubMetrics
  peers: readonly PeerToken[]
  /** What `/healthz` checks: every part must say true. */
  health: () => Promise<Record<string, boolean>>
  /** Facts `/healthz` adds to its body (the replica's name). */
  identity?: Record<string, string>
  /**
   * Register the federation routes (full paths under `/federation/v1`). They
   * are registered inside the authenticated scope: every one of them runs
   * only for a known bearer token, and is counted in the federation metric.
   */
  federationRoutes: Array<(scope: FastifyInstance) => void>
  /** More routes outside the federation scope, each in its own plugin (the dashboard, hub/ui). */
  plugins?: Array<(app: FastifyInstance) => void>
  /** Timeouts and limits of the server (see ./limits.ts). */
  limits?: Partial<HttpLimits>
  /**
   * hub.json `http.tls`, read: serve https. With `requestCert` a client must present a certificate
   * signed by `ca` before any request; the bearer token still says which peer calls (docs/operator-guide.md "Mutual TLS").
   */
  tls?: TlsMaterial & { requestCert: boolean }
  /**
   * The coded error for a thrown value that is not a VoltwayError (for
   * example storage that cannot take writes), or null for INTERNAL.
   */
  wireError?: (err: unknown) => VoltwayError | null
}

/**
 * Whether `url` is under the federation's prefix as the router reads it: the router decodes the
 * %-escapes of letters, digits and `-._~` (`/%66ederation/v1/...` reaches the federation's routes),
 * so they are decoded here too before the prefix is compared; a bad escape elsewhere in it is left be.
 */
function federationPath(url: string): boolean {
  const decoded = url.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16))
    return /^[A-Za-z0-9._~-]$/.test(c) ? c : escape
  })
  return decoded.startsWith(`${FEDERATION_PREFIX}/`)
}

export function sendError(reply: FastifyReply, code: ErrorCode, message: string, details?: Record<string, unknown>): FastifyReply {
  const error = details === undefined ? { code, message } : { code, message, details }
  return reply.status(HTTP_STATUS[code]).send({ error })
}

export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits }
  const log = opts.logger.child({ component: 'http' })
  const serverLimits = { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: limits.checkIntervalMs }
  // With `https` fastify builds the server from this object alone, so the header limits go in it too.
  const https = opts.tls ? { https: { ...opts.tls, ...serverLimits, rejectUnauthorized: opts.tls.requestCert, handshakeTimeout: limits.headersTimeoutMs } } : {}
  // Fastify types an https instance apart; routes, hooks and listen are the same for both.
  const app = Fastify({
    ...https,
    logger: false,
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // What fastify refuses before it finds a route, answered as every refusal is.
    frameworkErrors: (err, req, reply) => {
      // The token comes first on the federation's paths (docs/federation.md "Order of the checks"), also for
      // a path no route can take: a caller without one learns that before anything about its request.
      if (federationPath(req.url)) {
        const unauthorized = tokenRefusal(req)
        if (unauthorized !== null) return sendError(reply, 'UNAUTHORIZED', unauthorized)
      }
      const refused = routingError(err, req.url, MAX_PARAM_LENGTH) ?? new VoltwayError('INTERNAL', 'internal error')
      if (refused.code === 'INTERNAL') log.error({ err, url: cut(req.url) }, 'internal error')
      return sendError(reply, refused.code, refused.message)
    },
    return503OnClosing: true,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    http: serverLimits,
    // A request too slow, headers too large, bytes that are not HTTP: answered in the envelope too.
    clientErrorHandler: connectionErrorHandler(limits, log),
  }) as unknown as FastifyInstance
  const auth = new PeerAuthenticator(opts.peers)
  /** Why `req`'s bearer token is refused (the message of the 401), or null with the calling peer's id set on `req`. */
  const tokenRefusal = (req: FastifyRequest): string | null => {
    const peer = auth.authenticate(req.headers.authorization)
    if (peer === null) return /^Bearer /.test(req.headers.authorization ?? '') ? UNKNOWN_TOKEN : NO_TOKEN
    req.peerHubId = peer
    return null
  }

  readBodies(app)

  // Hooks here are callback-style, not async: each async hook costs a promise and a turn of fastify's
  // hook runner on every request. The debug line's object (and its elapsed-time clock read) is built
  // only when debug logging is on.
  app.addHook('onResponse', (req, reply, done) => {
    if (log.isLevelEnabled('debug')) log.debug({ method: req.method, url: req.url, status: reply.statusCode, peer: req.peerHubId, ms: reply.elapsedTime }, 'http request')
    done()
  })

  // A compressed body is refused before any parser reads it (after the token: the order of the checks).
  app.addHook('preParsing', (req, reply, payload, done) => {
    const refused = encodedBody(req.headers)
    if (refused === null) return done(null, payload)
    void reply.header('accept-encoding', 'identity')
    done(refused)
  })

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof VoltwayError) {
      if (err.code === 'INTERNAL') log.error({ err, url: req.url }, 'internal error')
      return sendError(reply, err.code, err.message, err.details)
    }
    // Fastify's own 4xx (a body too large, a Content-Type that is no media type): its status, our code and words.
    const refused = fastifyClientError(err as FrameworkError, req, req.routeOptions.bodyLimit ?? BODY_LIMIT)
    if (refused !== null) return sendError(reply, refused.code, refused.message, refused.details)
    const coded = opts.wireError?.(err) ?? null
    if (coded !== null) {
      log.warn({ err, url: req.url, code: coded.code }, 'request refused')
      return sendError(reply, coded.code, coded.message, coded.details)
    }
    log.error({ err, url: req.url }, 'internal error')
    return sendError(reply, 'INTERNAL', 'internal error')
  })

  app.setNotFoundHandler((req, reply) => sendError(reply, 'NOT_FOUND', `no route ${req.method} ${cut(req.url.split('?')[0] ?? '')}`))

  app.get('/healthz', async (_req, reply) => {
    const parts = await opts.health()
    const ok = Object.values(parts).every(Boolean)
    return reply.status(ok ? 200 : 503).send({ ok, ...opts.identity, ...parts })
  })

  app.get('/metrics', async (_req, reply) => {
    const body = await opts.metrics.text()
    return reply.header('content-type', opts.metrics.contentType).send(body)
  })

  // The federation scope (encapsulated: its hooks apply to its routes only, never to a URL string).
  void app.register(async (scope) => {
    scope.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const unauthorized = tokenRefusal(req)
      // Answered here: a callback-style hook that sends does not call done, so nothing else runs.
      if (unauthorized !== null) {
        sendError(reply, 'UNAUTHORIZED', unauthorized)
        return
      }
      done()
    })
    scope.addHook('onResponse', (req, reply, done) => {
      opts.metrics.onFederationRequest(req.routeOptions.url ?? 'unknown', reply.statusCode)
      done()
    })
    for (const register of opts.federationRoutes) register(scope)
  })
  for (const plugin of opts.plugins ?? []) plugin(app)
  return app
}

/**
 * How request bodies are read, on every route (the federation scope's token
 * check runs before any of this):
 *
 * - an empty body is no body, whatever its Content-Type: many HTTP clients
 *   send `application/json` on every request, DELETE included, and `curl -d ''`
 *   sends `application/x-www-form-urlencoded`; routes that need a body still
 *   validate it;
 * - a non-empty body is read as a JSON object by protocol/json.ts, the reader
 *   MQTT requests go through (a prototype key is BAD_REQUEST naming it);
 * - a non-empty body of another Content-Type is 415 UNSUPPORTED_MEDIA_TYPE
 *   (scopes may add parsers of their own, like the dashboard's login form).
 */
function readBodies(app: FastifyInstance): void {
  const limit = app.initialConfig.bodyLimit ?? BODY_LIMIT
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') return done(null, undefined)
    const json = parseJsonObject(text, limit)
    done(json.ok ? null : new VoltwayError('BAD_REQUEST', `body ${json.reason}`), json.ok ? json.value : undefined)
  })
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text === '') return done(null, undefined)
    const type = (req.headers['content-type'] ?? 'none').split(';')[0]?.trim() ?? 'none'
    done(notJson(type), undefined)
  })
}
