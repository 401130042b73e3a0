/**
 * `GET /ui/api/events`: the live feed as server-sent events (HTML Living
 * Standard, "Server-sent events"): a `snapshot` event, then `patch` events,
 * and a comment line every `heartbeatMs` so proxies keep the stream open.
 * At most `maxClients` streams at once (RATE_LIMITED beyond); a client that
 * stops reading (more than `maxBufferedBytes` waiting) is dropped and its
 * browser reconnects to a fresh snapshot.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { VoltwayError } from '../../../protocol/index.js'
import type { LiveFeed } from './feed.js'

export interface SseOptions {
  maxClients?: number
  heartbeatMs?: number
  maxBufferedBytes?: number
}

export function sseHandler(feed: LiveFeed, o: SseOptions = {}) {
  const maxClients = o.maxClients ?? 100
  const maxBuffered = o.maxBufferedBytes ?? 4 * 1024 * 1024
  let open = 0
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (open >= maxClients) throw new VoltwayError('RATE_LIMITED', `the dashboard serves at most ${maxClients} live streams at once`)
    open++
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    res.write('retry: 1000\n\n')
    let unsubscribe: (() => void) | null = null
    let closed = false
    const close = (): void => {
      if (closed) return
      closed = true
      open--
      clearInterval(heartbeat)
      unsubscribe?.()
      res.end()
    }
    const heartbeat = setInterval(() => res.write(': hb\n\n'), o.heartbeatMs ?? 15_000)
    heartbeat.unref()
    req.raw.on('close', close)
    res.on('error', close)
    unsubscribe = await feed.subscribe((event, data) => {
      if (closed) return
      if (event === 'close') return close()
      if (res.writableLength > maxBuffered) return close()
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    })
    if (closed) unsubscribe()
  }
}
