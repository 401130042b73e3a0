/**
 * Several hubs' federation sides in ONE process, for tests and the bench:
 * each a real fastify server on a free loopback port (with the hub's own
 * bearer-token check) and its own store, all sharing one controllable clock.
 * Vehicles call the op handlers directly (args validated by the op schemas,
 * as the request server would).
 */
import type { z } from 'zod'
import { createServer, type Server, type Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import { TestClock } from '../../hub/clock.js'
import { HubConfigSchema, type HubConfig } from '../../hub/config.js'
import { createFederation, type Federation, type FederationDeps, type FederationTuning } from '../../hub/trips/index.js'
import { tripOpHandlers } from '../../hub/ops/index.js'
import { buildHttpServer } from '../../hub/http/server.js'
import { HubMetrics } from '../../hub/metrics.js'
import { StationRegistry } from '../../hub/stations/index.js'
import { MemoryStore, type Store } from '../../hub/store/index.js'
import type { RoamingParticipant } from '../../hub/federation/index.js'
import { OPS, VoltwayError, type OpArgsInput, type OpName, type OpResult, type Position, type HandlerTable, type OpHandler, type Receipt } from '../../protocol/index.js'
import { freePort } from './net.js'
import { tempSqlite, type TempSqlite } from './store-sqlite.js'

export interface HubSpec {
  hubId: string
  city: string
  position: Position
  stations: Array<{ stationId: string; position: Position }>
}

/** Feira de Santana, Salvador, Ilhéus: two stations each, about 92 and 205 km apart. */
export const BAHIA: HubSpec[] = [
  {
    hubId: 'feira',
    city: 'Feira de Santana',
    position: { lat: -12.2664, lon: -38.9663 },
    stations: [
      { stationId: 'FSA-1', position: { lat: -12.25, lon: -38.95 } },
      { stationId: 'FSA-2', position: { lat: -12.27, lon: -38.97 } },
    ],
  },
  {
    hubId: 'salvador',
    city: 'Salvador',
    position: { lat: -12.9714, lon: -38.5014 },
    stations: [
      { stationId: 'SSA-1', position: { lat: -12.97, lon: -38.5 } },
      { stationId: 'SSA-2', position: { lat: -12.98, lon: -38.51 } },
    ],
  },
  {
    hubId: 'ilheus',
    city: 'Ilhéus',
    position: { lat: -14.7936, lon: -39.0463 },
    stations: [
      { stationId: 'IOS-1', position: { lat: -14.79, lon: -39.04 } },
      { stationId: 'IOS-2', position: { lat: -14.8, lon: -39.05 } },
    ],
  },
]

export const BAHIA_LINKS = [
  { from: 'feira', to: 'salvador', distanceKm: 108 },
  { from: 'salvador', to: 'ilheus', distanceKm: 400 },
  { from: 'feira', to: 'ilheus', distanceKm: 600 },
]

/** A peer that is configured but not a Voltway hub under test. */
export interface FakePeer {
  hubId: string
  url: string
}

export interface FedHub {
  hubId: string
  config: HubConfig
  store: Store
  federation: Federation
  app: FastifyInstance
  url: string
  /** Call an op as vehicle `vehicleId` (args parsed with the op's schema first). */
  call<O extends OpName>(op: O, args: OpArgsInput<O>, vehicleId?: string): Promise<OpResult<O>>
  /** Stop this hub (federation, HTTP server); the store stays open unless `closeStore`. */
  stop(closeStore?: boolean): Promise<void>
}

export interface FederationHarness {
  clock: TestClock
  hubs: Record<string, FedHub>
  hub(id: string): FedHub
  sqlite: TempSqlite | null
  /** Start (again) hub `id` on the same store, port and config (after `stop()`). */
  restart(id: string, over?: Partial<StartOptions>): Promise<FedHub>
  /**
   * Start another replica of hub `id`: its federation and HTTP server on `port` (one of its
   * `replicaPorts`), on the same store and config, with leases owned by `name`. Stopped by close().
   */
  startReplica(id: string, name: string, port: number): Promise<FedHub>
  close(): Promise<void>
}

export interface StartOptions {
  specs: HubSpec[]
  links: Array<{ from: string; to: string; distanceKm: number }>
  /** SQLite files (default) or memory stores. */
  storage?: 'sqlite' | 'memory'
  /** Extra peers of EVERY hub (dead or hanging servers). */
  fakePeers?: FakePeer[]
  /**
   * More federation ports of a hub, for replicas the test starts (`startReplica`): the hub's
   * peers list its first port and these as `urls`.
   */
  replicaPorts?: Record<string, number[]>
  rules?: Partial<HubConfig['rules']>
  tuning?: Partial<FederationTuning>
  beforeStep?: FederationDeps['beforeStep']
  logger?: Logger
  clock?: TestClock
  /** Do not call federation.start() (tests that drive recovery themselves). */
  noStart?: boolean
  /** Each hub's own receipts of a vehicle. */
  receipts?: (hubId: string, vehicleId: string) => Promise<Receipt[]>
}

/** A roaming participant that only lists receipts (each peer is served the same ones); its sessions are NOT_FOUND. */
export function receiptsOnly(receipts: RoamingParticipant['receipts']): RoamingParticipant {
  const none = async (): Promise<never> => {
    throw new VoltwayError('NOT_FOUND', 'no roaming sessions in this test')
  }
  return { receipts, startSession: none, session: none, stopSession: none }
}

export const token = (from: string, to: string): string => `${from}-to-${to}-secret`

/**
 * hub.json of hub `s` for tests and benches: its stations at 22 kW and 73 minor units per kWh,
 * the default rules unless `rules` says otherwise. `dataDir` defaults to `data` and `mqtt` to
 * hub.json's default (a replica cluster fills both in); `httpPort` 0 picks a free one.
 */
export function specConfig(
  s: HubSpec,
  over: {
    vehicles?: Array<{ vehicleId: string; password: string }>
    rules?: Partial<HubConfig['rules']>
    replicas?: Partial<HubConfig['replicas']>
    httpPort?: number
    peers?: HubConfig['federation']['peers']
    links?: HubConfig['federation']['links']
    dataDir?: string
    /** As hub.json spells it (defaults filled in by the schema). */
    mqtt?: z.input<typeof HubConfigSchema>['mqtt']
  },
): HubConfig {
  return HubConfigSchema.parse({
    hubId: s.hubId,
    name: `${s.city} Charging`,
    city: s.city,
    position: s.position,
    currency: 'BRL',
    dataDir: over.dataDir ?? 'data',
    ...(over.mqtt ? { mqtt: over.mqtt } : {}),
    http: { host: '127.0.0.1', port: over.httpPort ?? 0 },
    stations: s.stations.map((st, i) => ({ ...st, powerKw: 22, priceMinorPerKwh: 73, password: `${s.hubId}-st-${i}-pass` })),
    vehicles: over.vehicles ?? [],
    federation: { peers: over.peers ?? [], links: over.links ?? [] },
    rules: { windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30, ...over.rules },
    ...(over.replicas ? { replicas: over.replicas } : {}),
  })
}

export async function startFederationHubs(opts: StartOptions): Promise<FederationHarness> {
  let requestCount = 0
  const clock = opts.clock ?? new TestClock('2026-11-24T12:00:00Z')
  const logger = opts.logger ?? pino({ level: process.env.VOLTWAY_TEST_LOG ?? 'silent' })
  const sqlite = (opts.storage ?? 'sqlite') === 'sqlite' ? tempSqlite() : null
  const ports = new Map<string, number>()
  for (const s of opts.specs) ports.set(s.hubId, await freePort())
  const urls = new Map([...ports].map(([id, p]) => [id, `http://127.0.0.1:${p}`]))
  for (const f of opts.fakePeers ?? []) urls.set(f.hubId, f.url)

  const configs = new Map<string, HubConfig>()
  const stores = new Map<string, Store>()
  for (const s of opts.specs) {
    configs.set(
      s.hubId,
      specConfig(s, {
        dataDir: sqlite ? `${sqlite.dir}/${s.hubId}` : '/nonexistent',
        httpPort: ports.get(s.hubId) ?? 0,
        peers: [...urls]
          .filter(([id]) => id !== s.hubId)
          .map(([id, url]) => {
            const more = (opts.replicaPorts?.[id] ?? []).map((p) => `http://127.0.0.1:${p}`)
            return { hubId: id, ...(more.length > 0 ? { urls: [url, ...more] } : { url }), token: token(s.hubId, id), acceptToken: token(id, s.hubId) }
          }),
        links: opts.links,
        ...(opts.rules ? { rules: opts.rules } : {}),
      }),
    )
    stores.set(s.hubId, sqlite ? sqlite.open({ dataDir: `${sqlite.dir}/${s.hubId}` }) : new MemoryStore())
  }

  const hubs: Record<string, FedHub> = {}
  const replicas: FedHub[] = []
  const start = async (id: string, over: Partial<StartOptions> = {}, replica?: { name: string; port: number }): Promise<FedHub> => {
    const config = configs.get(id) as HubConfig
    const store = stores.get(id) as Store
    const stations = new StationRegistry({ hubId: id, currency: 'BRL', stations: config.stations, clock })
    const beforeStep = over.beforeStep ?? opts.beforeStep
    const federation = createFederation({
      config,
      store,
      clock,
      logger: logger.child({ hubId: id }),
      stations,
      tuning: { ...opts.tuning, ...over.tuning },
      ...(opts.receipts ? { receipts: (v: string) => (opts.receipts as NonNullable<StartOptions['receipts']>)(id, v) } : {}),
      ...(opts.receipts ? { roaming: receiptsOnly((_peer, v) => (opts.receipts as NonNullable<StartOptions['receipts']>)(id, v)) } : {}),
      ...(beforeStep ? { beforeStep } : {}),
      ...(replica ? { replica: replica.name } : {}),
    })
    const metrics = new HubMetrics(id, { stationsOnline: () => 0, stationsTotal: () => stations.size, bookings: () => store.reservations.counts(clock.now()) })
    const app = buildHttpServer({ logger, metrics, peers: config.federation.peers, health: async () => ({ ok: true }), federationRoutes: [federation.routes] })
    await app.listen({ host: '127.0.0.1', port: replica?.port ?? config.http.port })
    if (!(over.noStart ?? opts.noStart)) {
      await federation.start()
      // The tests here check the outcome of recovery right after a restart.
      await federation.recovered()
    }
    const handlers: HandlerTable = tripOpHandlers({ federation })
    const hub: FedHub = {
      hubId: id,
      config,
      store,
      federation,
      app,
      url: replica ? `http://127.0.0.1:${replica.port}` : (urls.get(id) as string),
      async call(op, args, vehicleId = 'V1') {
        const handler = handlers[op] as OpHandler<typeof op> | undefined
        if (!handler) throw new Error(`no handler for ${op}`)
        const parsed = OPS[op].args.parse(args) as Parameters<OpHandler<typeof op>>[0]
        // A new request id per call, as a vehicle sends: what a request books is named after (vehicle, request id).
        return handler(parsed, { hubId: id, vehicleId, requestId: `r-${++requestCount}`, op })
      },
      async stop(closeStore = false) {
        await federation.close()
        await app.close()
        if (closeStore) await store.close()
      },
    }
    if (replica) replicas.push(hub)
    else hubs[id] = hub
    return hub
  }
  for (const s of opts.specs) await start(s.hubId)

  return {
    clock,
    hubs,
    sqlite,
    hub(id) {
      const h = hubs[id]
      if (!h) throw new Error(`no hub ${id}`)
      return h
    },
    async restart(id, over = {}) {
      if (sqlite) {
        await stores.get(id)?.close()
        stores.set(id, sqlite.open({ dataDir: `${sqlite.dir}/${id}` }))
      }
      return start(id, over)
    },
    startReplica(id, name, port) {
      return start(id, {}, { name, port })
    },
    async close() {
      for (const h of [...replicas, ...Object.values(hubs)]) await h.stop().catch(() => undefined)
      for (const s of stores.values()) await s.close().catch(() => undefined)
      if (sqlite) await sqlite.dispose()
    },
  }
}

/** A TCP server that accepts connections and never answers (a hung peer). */
export async function startHangingServer(): Promise<{ url: string; connections: () => number; received: () => string; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  let count = 0
  let received = ''
  const srv: Server = createServer((s) => {
    count++
    sockets.add(s)
    s.on('data', (d: Buffer) => (received += d.toString('latin1')))
    s.on('error', () => undefined)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const addr = srv.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => count,
    received: () => received,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => srv.close(() => r()))
    },
  }
}

/** A URL where nothing listens (a dead peer). */
export async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`
}

/** `minutes` after the clock's now, as an RFC 3339 time. */
export function inMinutes(clock: TestClock, minutes: number): string {
  return new Date(clock.now() + minutes * 60_000).toISOString().replace('.000Z', 'Z')
}

/** Every reservation and live hold at every hub, for "nothing booked anywhere". */
export async function bookingsEverywhere(h: FederationHarness): Promise<{ reservations: number; activeHolds: number }> {
  let reservations = 0
  let activeHolds = 0
  for (const hub of Object.values(h.hubs)) {
    const c = await hub.store.reservations.counts(h.clock.now())
    reservations += c.reservations
    activeHolds += c.activeHolds
  }
  return { reservations, activeHolds }
}

/**
 * Feira and Salvador linked, on memory stores (closed at `t`'s end), for tests that speak raw HTTP to
 * Salvador as Feira: its port and Feira's Authorization header for it.
 */
export async function salvadorAsFeira(t: { teardown(fn: () => Promise<void>): void }): Promise<{ h: FederationHarness; port: number; auth: { authorization: string } }> {
  const h = await startFederationHubs({ specs: BAHIA.slice(0, 2), links: BAHIA_LINKS.slice(0, 1), storage: 'memory' })
  t.teardown(() => h.close())
  return { h, port: Number(new URL(h.hub('salvador').url).port), auth: { authorization: `Bearer ${token('feira', 'salvador')}` } }
}
