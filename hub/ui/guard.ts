/**
 * Who may reach a dashboard route. Every route of the UI scope needs a live
 * session except the login form and its POST (`config: {public: true}`).
 * Without one, a page answers 302 to `/ui/login` and data (`/ui/api/*`,
 * `/ui/assets/*`) answers 401 UNAUTHORIZED. A POST must also carry the
 * session's CSRF token in `x-csrf-token` (403 FORBIDDEN otherwise): with the
 * SameSite=Strict cookie, a page of another site can neither send the cookie
 * nor read the token (OWASP CSRF cheat sheet, "synchronizer token").
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { sendError } from '../http/server.js'
import type { SessionStore, UiSession } from './sessions.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The dashboard session, set by the UI guard. */
    uiSession?: UiSession
  }
  interface FastifyContextConfig {
    /** A dashboard route that needs no login (the login form). */
    public?: boolean
  }
}

export const SESSION_COOKIE = 'voltway_ui'
export const CSRF_HEADER = 'x-csrf-token'

const isData = (url: string): boolean => url.startsWith('/ui/api/') || url.startsWith('/ui/assets/')
const sha = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

export function sameToken(a: unknown, b: string): boolean {
  return typeof a === 'string' && timingSafeEqual(sha(a), sha(b))
}

export function uiGuard(sessions: SessionStore) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (req.routeOptions.config.public === true) return undefined
    const session = sessions.get(req.cookies[SESSION_COOKIE])
    if (!session) {
      if (isData(req.url) || req.method !== 'GET') return sendError(reply, 'UNAUTHORIZED', 'log in at /ui/login first')
      return reply.redirect('/ui/login', 302)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && !sameToken(req.headers[CSRF_HEADER], session.csrf)) {
      return sendError(reply, 'FORBIDDEN', `missing or wrong ${CSRF_HEADER} header: reload the dashboard`)
    }
    req.uiSession = session
    return undefined
  }
}
