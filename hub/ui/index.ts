/**
 * The operator's dashboard at `/ui/` (docs/operator-guide.md, "The
 * dashboard"): login with an operator token, pages drawn in the browser from
 * the bundle in dist/ui, JSON data and a live stream of server-sent events.
 * `createUi` builds its parts; `register` adds them to the hub's fastify app
 * in a scope of their own (the federation scope is not touched), plus one
 * root hook that times the federation calls for the peers' health (their
 * inbound half; `onPeerCall` feeds the outbound half).
 */
import fastifyCookie from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import type { PeerCallReport } from '../federation/call-observer.js'
import type { EventSink } from '../station-link/event-listener.js'
import { FEDERATION_PREFIX } from '../http/server.js'
import { uiAssetsDir } from './assets.js'
import type { UiHubDeps, UiParts } from './deps.js'
import { uiGuard } from './guard.js'
import { BookingsWatch } from './live/bookings.js'
import { LiveFeed } from './live/feed.js'
import { Journal } from './live/journal.js'
import { PowerLog } from './live/power-log.js'
import { StationObserver, teeEventSink } from './live/station-observer.js'
import { StationViews } from './live/station-views.js'
import { OperatorAuthenticator } from './operators.js'
import { PeerHealth } from './peer-health.js'
import { actionRoutes } from './routes-actions.js'
import { dataRoutes } from './routes-data.js'
import { loginRoutes } from './routes-login.js'
import { pageRoutes } from './routes-pages.js'
import { SessionStore } from './sessions.js'

export type { UiHubDeps } from './deps.js'

export interface Ui {
  readonly parts: UiParts
  readonly sessions: SessionStore
  /** The hub's station event sink, with the dashboard told of every report. */
  observe(sink: EventSink): EventSink
  /** Feed of this hub's calls to its peers (give it to the federation's `onPeerCall`). */
  onPeerCall(report: PeerCallReport): void
  /** Add the dashboard to the hub's app (give it to buildHttpServer's `plugins`). */
  register(app: FastifyInstance): void
  /** Every `METHOD url` the dashboard registered (known once the app is ready). */
  routes(): string[]
  close(): void
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

export function createUi(d: UiHubDeps): Ui {
  const journal = new Journal()
  const power = new PowerLog()
  const views = new StationViews(d.stations, d.store, power)
  const bookings = new BookingsWatch({ store: d.store, stations: d.stations, clock: d.clock, windowMs: d.config.rules.windowMinutes * 60_000 })
  const logger = d.logger.child({ component: 'ui' })
  const feed = new LiveFeed({ views, journal, power, bookings, now: () => d.clock.now(), logger, ...(d.tickMs !== undefined ? { tickMs: d.tickMs } : {}) })
  const peers = new PeerHealth(d.config.federation.peers.map((p) => p.hubId))
  const parts: UiParts = { views, journal, power, bookings, feed, peers }
  const observer = new StationObserver({ clock: d.clock, store: d.store, journal, power, known: (id) => d.stations.has(id) })
  const sessions = new SessionStore({ clock: d.clock })
  const operators = new OperatorAuthenticator(d.config.operators)
  const registered: string[] = []

  return {
    parts,
    sessions,
    observe: (sink) => teeEventSink(sink, observer),
    onPeerCall: (r) => peers.onOutboundCall(r, d.clock.now()),
    register(app) {
      app.addHook('onResponse', async (req, reply) => {
        if (req.routeOptions.url?.startsWith(FEDERATION_PREFIX) || req.url.startsWith(FEDERATION_PREFIX)) {
          peers.onFederationResponse(req.peerHubId, reply.statusCode, reply.elapsedTime, d.clock.now())
        }
      })
      void app.register(async (scope) => {
        scope.addHook('onRoute', (r) => {
          for (const m of [r.method].flat()) if (m !== 'HEAD') registered.push(`${m} ${r.url}`)
        })
        await scope.register(fastifyCookie)
        scope.addHook('onRequest', uiGuard(sessions))
        // Live streams never end by themselves: end them before the server waits for its connections.
        scope.addHook('preClose', async () => feed.close())
        scope.addHook('onSend', async (_req, reply) => {
          reply.headers(SECURITY_HEADERS)
        })
        loginRoutes(scope, { hubName: d.config.name, operators, sessions, logger })
        dataRoutes(scope, d, parts)
        actionRoutes(scope, d, parts)
        await pageRoutes(scope, uiAssetsDir())
      })
    },
    routes: () => [...registered],
    close: () => feed.close(),
  }
}
