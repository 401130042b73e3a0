/**
 * The federation of one hub, assembled: trips (this folder: coordinator,
 * holds, release queue) over hub/federation's transport (the `/federation/v1`
 * routes it serves, the client it calls its peers with), the services behind
 * the ops `route.list`, `route.reserve`, `trip.cancel`, `history.list`
 * (hub/ops/), and the database's sweeper (expired holds, old idempotency
 * answers and peer-hold ledger entries, lapsed leases, old station events).
 *
 *     const fed = createFederation({ config, store, clock, logger, stations, receipts })
 *     buildHttpServer({ ..., federationRoutes: [fed.routes] })
 *     opHandlers({ ...ctx, charging, federation: fed })
 *     await http.listen(...); await fed.start()      // release queue, sweeper; recovery in the background
 *     ...; await fed.close()                          // before the store closes
 */
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { OpArgs, OpResult, Receipt } from '../../protocol/index.js'
import type { Clock, Random } from '../../base/clock.js'
import type { HubConfig } from '../config.js'
import { rulesFromConfig } from '../reservations/rules.js'
import { HubDirectory, type HubSummary } from '../routes/directory.js'
import { DAY_MS, DEFAULT_STATION_EVENTS_DAYS, deleteOldStationEvents, forgetStaleStationStreams, STATION_EVENTS_BATCH, STATION_EVENTS_MAX_BATCHES } from '../charging/event-retention.js'
import { RouteCatalog } from '../routes/catalog.js'
import { listRoute } from '../routes/route-list.js'
import { findNearest, type StationRegistry } from '../stations/index.js'
import { REQUEST_ID_KEPT_MS, type Store } from '../store/index.js'
import type { PeerCallObserver } from '../federation/call-observer.js'
import { FederationClient } from '../federation/client.js'
import { IdempotencyGuard } from '../federation/idempotency.js'
import { registerFederationRoutes, type RoamingParticipant } from '../federation/server.js'
import { Coordinator, DEFAULT_TUNING, type CoordinatorStep, type CoordinatorTuning } from './coordinator.js'
import { vehicleHistory } from './history.js'
import { HoldService } from './holds.js'
import { DEFAULT_LEASE_TTL_MS, LeaseKeeper, leaseNames } from './lease-keeper.js'
import { Participants } from './participants.js'
import { Releaser } from './releaser.js'

export interface FederationTuning extends CoordinatorTuning {
  /** TCP connect timeout to a peer. Default 2000 ms. */
  connectTimeoutMs: number
  /** Keep-alive connections per peer. Default 32. */
  connections: number
  /** Retries of an idempotent call after a connection error or 5xx. Default 2. */
  maxRetries: number
  /** How long `history.list` waits for a peer. Default 2000 ms. */
  historyTimeoutMs: number
  /** Longest wait-die wait this hub grants a hold request. Default 5000 ms. */
  serverMaxWaitMs: number
  /** How often expired holds, old idempotency answers and old station events are deleted. Default 10 s. */
  sweepIntervalMs: number
  /** How long station events are kept, ms: hub.json `retention.stationEventsDays`. Default 90 days. */
  stationEventsKeptMs: number
  /** Events deleted by one write, and most writes of one sweep (hub/charging/event-retention.ts). Defaults 2000 and 50. */
  stationEventsBatch: number
  stationEventsMaxBatches: number
  /** How long idempotent answers (vehicle request ids, federation keys) and hold tombstones are kept, ms. Default REQUEST_ID_KEPT_MS (24 h, hub/store/request-id-rules.ts). */
  retentionMs: number
  /** Release queue backoff. Defaults 200 ms and 30 s. */
  releaseMinDelayMs: number
  releaseMaxDelayMs: number
  /** Peer hub info (name, city, position) is refreshed after this. Default 5 min. */
  hubInfoTtlMs: number
  /** How long a replica's leases (trips, releases, the sweeper) outlive its last heartbeat. Default 15 s. */
  leaseTtlMs: number
  /** How often unfinished trips and queued releases of replicas that died are looked for. Default 5 s. */
  takeoverIntervalMs: number
}

export const DEFAULT_FEDERATION_TUNING: FederationTuning = {
  ...DEFAULT_TUNING,
  connectTimeoutMs: 2000,
  connections: 32,
  maxRetries: 2,
  historyTimeoutMs: 2000,
  serverMaxWaitMs: 5000,
  sweepIntervalMs: 10_000,
  stationEventsKeptMs: DEFAULT_STATION_EVENTS_DAYS * DAY_MS,
  stationEventsBatch: STATION_EVENTS_BATCH,
  stationEventsMaxBatches: STATION_EVENTS_MAX_BATCHES,
  retentionMs: REQUEST_ID_KEPT_MS,
  releaseMinDelayMs: 200,
  releaseMaxDelayMs: 30_000,
  hubInfoTtlMs: 300_000,
  leaseTtlMs: DEFAULT_LEASE_TTL_MS,
  takeoverIntervalMs: 5_000,
}

export interface FederationDeps {
  config: Pick<HubConfig, 'hubId' | 'name' | 'city' | 'position' | 'federation' | 'rules'>
  store: Store
  clock: Clock
  logger: Logger
  /** The hub's stations (hold placement, `GET /federation/v1/stations`, `GET /federation/v1/hub`). */
  stations: StationRegistry
  /** This hub's receipts of one of its vehicles, here and from its roaming sessions (`history.list`'s own part). Default: none. */
  receipts?: (vehicleId: string) => Promise<Receipt[]>
  /** The station side of roaming (`/federation/v1/sessions`, peers' vehicles' receipts). Default: none (those routes answer 404, receipts none). */
  roaming?: RoamingParticipant
  tuning?: Partial<FederationTuning>
  /** Told of every call this hub makes to a peer (peers' health, metrics). */
  onPeerCall?: PeerCallObserver
  /** Test hook (see Coordinator). */
  beforeStep?: (s: CoordinatorStep) => void | Promise<void>
  /** Trip ids (tests). Default `t-<uuid>`. */
  newTripId?: () => string
  /** Jitter of retries and restarts (default Math.random). */
  random?: Random
  /** This replica's name, the owner of its leases (docs/operator-guide.md "Scale out"). Default `main`. */
  replica?: string
}

export interface Federation {
  /** `route.list`: the route to `args.destination` over this hub and its peers. */
  listRoute(args: OpArgs<'route.list'>): Promise<OpResult<'route.list'>>
  /** `history.list`: a vehicle's receipts here and at every peer (a peer that does not answer in time is left out). */
  history(vehicleId: string, limit: number): Promise<OpResult<'history.list'>>
  /** Registers the `/federation/v1` routes; give it to buildHttpServer's `federationRoutes`. */
  readonly routes: (app: FastifyInstance) => void
  readonly coordinator: Coordinator
  readonly holds: HoldService
  /** The Idempotency-Key rules of the `/federation/v1` routes. */
  readonly idempotency: IdempotencyGuard
  readonly client: FederationClient
  readonly releaser: Releaser
  readonly catalog: RouteCatalog
  /** This hub and each peer whose `GET /federation/v1/hub` is known (cached; missing or stale ones are fetched in the background). */
  hubs(): HubSummary[]
  readonly leases: LeaseKeeper
  /**
   * Resume the release queue, start the sweeper, fetch peers' hub info, and
   * start recovering unfinished trips in the background: recovery waits on
   * peers (each call bounded by the request timeout), so it never holds up
   * start-up; every release it cannot finish is durable in the queue.
   */
  start(): Promise<void>
  /** One pass of the sweeper now, if this replica gets the sweeper's lease (`start()` runs it every `sweepIntervalMs`; tests call it). Never rejects. */
  sweep(): Promise<void>
  /** Resolves when the recovery begun by `start()` has finished (how many trips it undid or cancelled); never rejects. */
  recovered(): Promise<{ undone: number; cancelled: number }>
  /** Wait for recovery and for the leases being given back, stop the sweeper and the release queue, close the peer pools. Call before closing the store. */
  close(): Promise<void>
}

export function createFederation(deps: FederationDeps): Federation {
  const { config, store, clock } = deps
  const t: FederationTuning = { ...DEFAULT_FEDERATION_TUNING, ...deps.tuning }
  const logger = deps.logger.child({ component: 'federation' })
  const rules = rulesFromConfig(config.rules)
  const receipts = deps.receipts ?? (async (): Promise<Receipt[]> => [])

  const holds = new HoldService({
    hubId: config.hubId,
    store,
    clock,
    logger,
    stations: deps.stations,
    rules: { ...rules, holdTtlSeconds: config.rules.holdTtlSeconds },
    maxWaitMs: t.serverMaxWaitMs,
    defaultWaitMs: Math.min(2000, t.serverMaxWaitMs),
  })
  const leases = new LeaseKeeper({ store: store.leases, clock, logger, owner: deps.replica ?? 'main', ttlMs: t.leaseTtlMs })
  const idempotency = new IdempotencyGuard({ store: store.idempotency, clock, logger })
  const client = new FederationClient({
    peers: config.federation.peers,
    logger,
    connectTimeoutMs: t.connectTimeoutMs,
    requestTimeoutMs: t.requestTimeoutMs,
    connections: t.connections,
    maxRetries: t.maxRetries,
    ...(deps.onPeerCall ? { onCall: deps.onPeerCall } : {}),
  })
  const participants = new Participants(config.hubId, holds, client)
  const releaser = new Releaser({
    store,
    clock,
    logger,
    participants,
    leases,
    minDelayMs: t.releaseMinDelayMs,
    maxDelayMs: t.releaseMaxDelayMs,
    timeoutMs: t.requestTimeoutMs,
    ...(deps.random ? { random: deps.random } : {}),
  })
  const catalog = new RouteCatalog(
    config.hubId,
    config.federation.links,
    config.federation.peers.map((p) => p.hubId),
  )
  const directory = new HubDirectory({
    self: { hubId: config.hubId, name: config.name, city: config.city, position: config.position },
    fetch: (hubId) => client.hubInfo(hubId),
    clock,
    logger,
    ttlMs: t.hubInfoTtlMs,
  })
  const coordinator = new Coordinator({
    hubId: config.hubId,
    store,
    clock,
    logger,
    catalog,
    participants,
    releaser,
    leases,
    ownHolds: holds,
    holdTtlSeconds: config.rules.holdTtlSeconds,
    tuning: t,
    ...(deps.newTripId ? { newTripId: deps.newTripId } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.beforeStep ? { beforeStep: deps.beforeStep } : {}),
  })

  const routes = (app: FastifyInstance): void =>
    registerFederationRoutes(app, {
      clock,
      hubInfo: () => ({
        hubId: config.hubId,
        name: config.name,
        city: config.city,
        position: config.position,
        stations: deps.stations.size,
      }),
      nearestStations: (q) =>
        findNearest(deps.stations, store, { ...q, nowMs: clock.now(), windowMs: rules.windowMs }),
      holds,
      idempotency,
      ...(deps.roaming ? { roaming: deps.roaming } : {}),
    })

  let sweeper: NodeJS.Timeout | null = null
  let takeover: NodeJS.Timeout | null = null
  let sweeping = false
  // Once per database, not once per replica: the replica holding the sweeper lease sweeps.
  const sweep = async (): Promise<void> => {
    if (sweeping) return
    sweeping = true
    try {
      if (!(await leases.acquire(leaseNames.sweeper))) return
      const now = clock.now()
      await holds.sweep()
      await store.idempotency.deleteOlderThan(now - t.retentionMs)
      await store.trips.deletePeerHoldsOlderThan(now - t.retentionMs)
      await store.leases.deleteExpired(now)
      // Last: over a large backlog it takes the most batches.
      const events = { batch: t.stationEventsBatch, maxBatches: t.stationEventsMaxBatches }
      await deleteOldStationEvents(store.charging, now - t.stationEventsKeptMs, events)
      await forgetStaleStationStreams(store.charging, now - t.stationEventsKeptMs, events)
    } catch (err) {
      logger.warn({ err }, 'sweep failed')
    } finally {
      sweeping = false
    }
  }

  const nothingRecovered = { undone: 0, cancelled: 0 }
  let recovery: Promise<{ undone: number; cancelled: number }> = Promise.resolve(nothingRecovered)
  /** Recover trips and pick up releases whose replica died (their leases ran out); one pass at a time. */
  const takeOver = (): void => {
    recovery = recovery.then(async () => {
      await releaser.rescan().catch((err: unknown) => logger.warn({ err }, 'could not scan the release queue'))
      return coordinator.recover().catch((err: unknown) => {
        logger.error({ err }, 'trip recovery failed; it runs again at the next scan')
        return nothingRecovered
      })
    })
  }

  return {
    listRoute: (args) => listRoute(catalog, directory, args),
    history: (vehicleId, limit) => vehicleHistory({ client, localReceipts: receipts, logger, timeoutMs: t.historyTimeoutMs }, vehicleId, limit),
    routes,
    coordinator,
    holds,
    idempotency,
    client,
    releaser,
    catalog,
    hubs: () => directory.cached(client.peerIds),
    leases,
    sweep,
    async start() {
      leases.start()
      await releaser.start()
      recovery = coordinator.recover().catch((err: unknown) => {
        logger.error({ err }, 'trip recovery failed; it runs again at the next start')
        return nothingRecovered
      })
      sweeper = setInterval(() => void sweep(), t.sweepIntervalMs)
      sweeper.unref()
      takeover = setInterval(takeOver, t.takeoverIntervalMs)
      takeover.unref()
      void directory.prefetch(client.peerIds)
    },
    recovered() {
      return recovery
    },
    async close() {
      if (sweeper) clearInterval(sweeper)
      if (takeover) clearInterval(takeover)
      sweeper = null
      takeover = null
      // Recovery writes its outcome to the store, so it finishes before the store closes.
      await recovery
      await releaser.close()
      // The coordinator gives leases back without waiting (coordinator.ts #leased): they reach the store before it closes.
      await leases.settled()
      leases.stop()
      await client.close()
    },
  }
}
