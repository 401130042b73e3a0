/**
 * `GET /ui/login` (the form), `POST /ui/login` (form field `token`: an
 * operator token from hub.json; 303 to `/ui/` with the session cookie, or 401
 * with the form again), `POST /ui/logout` (ends the session, clears the
 * cookie; needs the CSRF header like every POST) and `GET /ui/api/session`
 * (who is logged in, and the CSRF token the page sends back).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { SESSION_COOKIE } from './guard.js'
import { loginPage } from './login-page.js'
import type { OperatorAuthenticator } from './operators.js'
import type { SessionStore } from './sessions.js'

export interface LoginRouteDeps {
  hubName: string
  operators: OperatorAuthenticator
  sessions: SessionStore
  logger: Logger
}

/** The most a login or logout body may take, in bytes. */
const FORM_LIMIT = 4096

export function loginRoutes(scope: FastifyInstance, d: LoginRouteDeps): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))))
  })

  const page = (reply: FastifyReply, status: number, error: string | null): FastifyReply =>
    reply.status(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(loginPage(d.hubName, error))

  scope.get('/ui/login', { config: { public: true } }, async (_req, reply) => page(reply, 200, null))

  // The limit is the route's, not the parser's, so a refusal names it (413 PAYLOAD_TOO_LARGE, hub/http/client-errors.ts).
  scope.post('/ui/login', { config: { public: true }, bodyLimit: FORM_LIMIT }, async (req: FastifyRequest, reply) => {
    const body = req.body as Record<string, unknown> | undefined
    const name = d.operators.login(body?.token)
    if (name === null) {
      d.logger.warn({ ip: req.ip }, 'dashboard login refused')
      return page(reply, 401, 'Unknown operator token.')
    }
    const s = d.sessions.create(name)
    d.logger.info({ operator: name }, 'operator logged in')
    return reply
      .setCookie(SESSION_COOKIE, s.id, { path: '/ui', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https', maxAge: Math.floor(d.sessions.ttlMs / 1000) })
      .redirect('/ui/', 303)
  })

  scope.post('/ui/logout', { bodyLimit: FORM_LIMIT }, async (req, reply) => {
    if (req.uiSession) d.sessions.delete(req.uiSession.id)
    return reply.clearCookie(SESSION_COOKIE, { path: '/ui' }).status(204).send()
  })

  scope.get('/ui/api/session', async (req) => ({ operator: req.uiSession?.operator, csrf: req.uiSession?.csrf }))
}
