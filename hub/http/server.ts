/**
 * The hub's HTTP side (fastify): `/healthz`, `/metrics`, and the federation
 * API under `/federation/v1` behind per-peer bearer tokens. Federation routes
 * are plugged in by their own modules through `routes`.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { HTTP_STATUS, VoltwayError, isErrorCode, type ErrorCode } from '../../protocol/index.js'
import type { HubMetrics } from '../metrics.js'
import { PeerAuthenticator, type PeerToken } from './federation-auth.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The calling peer's hub id, set by the bearer-token check on `/federation/v1/*`. */
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
  /** Registers routes on the app (federation routes get the prefix themselves). */
  routes: Array<(app: FastifyInstance) => void>
}

export function sendError(reply: FastifyReply, code: ErrorCode, message: string, details?: Record<string, unknown>): FastifyReply {
  const error = details === undefined ? { code, message } : { code, message, details }
  return reply.status(HTTP_STATUS[code]).send({ error })
}

export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, routerOptions: { maxParamLength: 200 }, return503OnClosing: true })
  const auth = new PeerAuthenticator(opts.peers)
  const log = opts.logger.child({ component: 'http' })

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.url.startsWith(`${FEDERATION_PREFIX}/`) && req.url !== FEDERATION_PREFIX) return
    const peer = auth.authenticate(req.headers.authorization)
    if (peer === null) return sendError(reply, 'UNAUTHORIZED', 'missing or unknown bearer token')
    req.peerHubId = peer
  })

  app.addHook('onResponse', async (req, reply) => {
    if (req.url.startsWith(FEDERATION_PREFIX)) opts.metrics.onFederationRequest(req.routeOptions.url ?? 'unknown', reply.statusCode)
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

  for (const register of opts.routes) register(app)
  return app
}
