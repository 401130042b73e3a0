/**
 * The dashboard's pages (one HTML shell; the bundle draws the page its path
 * names) and its built assets under `/ui/assets/`. Without a build, pages
 * answer 503 with what to run.
 */
import { readFileSync } from 'node:fs'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import { sendError } from '../http/server.js'

export const UI_PAGES = ['/ui/', '/ui/stations/:id', '/ui/bookings', '/ui/federation', '/ui/receipts', '/ui/metrics'] as const

export async function pageRoutes(scope: FastifyInstance, assetsDir: string | null): Promise<void> {
  const shell = assetsDir === null ? null : readFileSync(`${assetsDir}index.html`, 'utf8')
  for (const url of UI_PAGES) {
    scope.get(url, async (_req, reply) => {
      if (shell === null) return sendError(reply, 'INTERNAL', 'the dashboard was not built: run `npm run build`')
      return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(shell)
    })
  }
  if (assetsDir !== null) {
    await scope.register(fastifyStatic, { root: assetsDir, prefix: '/ui/assets/', decorateReply: false, index: false, cacheControl: true, maxAge: 0 })
  }
}
