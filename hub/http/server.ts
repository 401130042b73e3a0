/**
 * The hub's HTTP side (fastify): `/healthz`, `/metrics`, and the federation
 * API under `/federation/v1` behind per-peer bearer tokens. Federation routes
 * are plugged in by their own modules through `federationRoutes`; each runs
 * inside one encapsulated scope whose hook checks the token, so the route
 * that actually runs decides, however its path was spelled.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { HTTP_STATUS, VoltwayError, isErrorCode, type ErrorCode, type TlsMaterial } from '../../protocol/index.js'
import type { HubMetrics } from '../metrics.js'
import { PeerAuthenticator, type PeerToken } from './federation-auth.js'
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './limits.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The calling peer's hub id, set by the bearer-token check of the federation scope. */
    peerHubId?: string
  }
}

export const FEDERATION_PREFIX = '/federation/v1'

export interface HttpServerOptions {
  logger: Logger
  metrics: HubMetrics
  peers: readonly PeerToken[]
  /** What `/healthz` checks: every part must say true. */
  health: () => Promise<Record<string, boolean>>
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

export function sendError(reply: FastifyReply, code: ErrorCode, message: string, details?: Record<string, unknown>): FastifyReply {
  const error = details === undefined ? { code, message } : { code, message, details }
  return reply.status(HTTP_STATUS[code]).send({ error })
}

export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits }
  const serverLimits = { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: limits.checkIntervalMs }
  // With `https` fastify builds the server from this object alone, so the header limits go in it too.
  const https = opts.tls ? { https: { ...opts.tls, ...serverLimits, rejectUnauthorized: opts.tls.requestCert, handshakeTimeout: limits.headersTimeoutMs } } : {}
  // Fastify types an https instance apart; routes, hooks and listen are the same for both.
  const app = Fastify({
    ...https,
    logger: false,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    http: serverLimits,
  }) as unknown as FastifyInstance
  const auth = new PeerAuthenticator(opts.peers)
  const log = opts.logger.child({ component: 'http' })

  acceptEmptyJsonBodies(app)

  app.addHook('onResponse', async (req, reply) => {
    log.debug({ method: req.method, url: req.url, status: reply.statusCode, peer: req.peerHubId, ms: reply.elapsedTime }, 'http request')
  })

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof VoltwayError) {
      if (err.code === 'INTERNAL') log.error({ err, url: req.url }, 'internal error')
      return sendError(reply, err.code, err.message, err.details)
    }
    const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown }
    if (e.validation !== undefined || (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)) {
      // Fastify's own 4xx: bad JSON, body too large, wrong content type.
      const status = typeof e.statusCode === 'number' ? e.statusCode : 400
      const code: ErrorCode = isErrorCode(e.code) ? e.code : 'BAD_REQUEST'
      return reply.status(status).send({ error: { code, message: e.message ?? 'bad request' } })
    }
    const coded = opts.wireError?.(err) ?? null
    if (coded !== null) {
      log.warn({ err, url: req.url, code: coded.code }, 'request refused')
      return sendError(reply, coded.code, coded.message, coded.details)
    }
    log.error({ err, url: req.url }, 'internal error')
    return sendError(reply, 'INTERNAL', 'internal error')
  })

  app.setNotFoundHandler((req, reply) => sendError(reply, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`))

  app.get('/healthz', async (_req, reply) => {
    const parts = await opts.health()
    const ok = Object.values(parts).every(Boolean)
    return reply.status(ok ? 200 : 503).send({ ok, ...parts })
  })

  app.get('/metrics', async (_req, reply) => {
    const body = await opts.metrics.text()
    return reply.header('content-type', opts.metrics.contentType).send(body)
  })

  // The federation scope (encapsulated: its hooks apply to its routes only, never to a URL string).
  void app.register(async (scope) => {
    scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      const peer = auth.authenticate(req.headers.authorization)
      if (peer === null) return sendError(reply, 'UNAUTHORIZED', 'missing or unknown bearer token')
      req.peerHubId = peer
    })
    scope.addHook('onResponse', async (req, reply) => {
      opts.metrics.onFederationRequest(req.routeOptions.url ?? 'unknown', reply.statusCode)
    })
    for (const register of opts.federationRoutes) register(scope)
  })
  for (const plugin of opts.plugins ?? []) plugin(app)
  return app
}

/**
 * `Content-Type: application/json` with an empty body parses to `undefined`
 * (many HTTP clients send the header on every request, DELETE included);
 * routes that need a body still validate it. Anything else is fastify's own
 * JSON parser, with its prototype-poisoning protection.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    json(req, text, done)
  })
}
