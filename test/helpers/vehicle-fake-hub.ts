/**
 * A light hub for the vehicle simulator's tests and benchmark: an aedes
 * broker that checks vehicle passwords and the vehicle rows of the
 * docs/protocol.md permission table, and a `createRpcServer` whose station and
 * reservation ops are the real hub's (hub/ops over a MemoryStore: the same
 * lead-time and window rules as every hub), while routes to made-up peers,
 * trips and metered sessions are small stateful fakes (no federation, no
 * station agents). As a home hub it roams: `charge.start` with a peer's
 * `hubId` opens a session at that made-up peer (any station id, free for
 * every vehicle, billed at FAKE_PEER_PRICE), stopped and billed through this
 * hub like a real roaming session. Errors can be injected per op with `failOp`.
 * For a whole real hub, see ./hub.ts (startTestHub).
 */
import { Socket } from 'node:net'
import { connectAsync, type MqttClient } from 'mqtt'
import type { Client } from 'aedes'
import {
  VoltwayError,
  costMinor,
  createRpcServer,
  formatTime,
  parseJsonObject,
  parseTime,
  type ErrorCode,
  type HandlerTable,
  type OpName,
  type Position,
  type RequestContext,
  type Receipt,
  type Reservation,
  type Route,
  type RpcServer,
  type Station,
  type TripSummary,
} from '../../protocol/index.js'
import { createHubContext, coreOpHandlers } from '../../hub/ops/index.js'
import { systemClock } from '../../base/clock.js'
import { distanceKm } from '../../hub/stations/index.js'
import { MemoryStore } from '../../hub/store/index.js'
import { startAedes, type TestBroker } from './aedes.js'
import { hubConfig } from './hub-config.js'

export interface FakePeer {
  hubId: string
  name: string
  city: string
  position: Position
}

export interface FakeHubOptions {
  hubId?: string
  name?: string
  city?: string
  position?: Position
  currency?: string
  stations?: Omit<Station, 'hubId' | 'currency'>[]
  /** vehicleId -> password */
  vehicles?: Record<string, string>
  /** Any `<prefix><n>` vehicle with password `<password>` is accepted too (fleets). */
  vehiclePattern?: { prefix: string; password: string }
  peers?: FakePeer[]
  minLeadMinutes?: number
  windowMinutes?: number
  /** rules.maxReservationsPerVehicle and rules.maxAdvanceDays (defaults 20 and 30). */
  maxReservationsPerVehicle?: number
  maxAdvanceDays?: number
  /** Energy flows this many times faster than real time (mock board speed-up). */
  energySpeedup?: number
  now?: () => number
}

export interface FakeHub {
  url: string
  port: number
  hubId: string
  broker: TestBroker
  requests: number
  readonly receipts: Receipt[]
  /** Make the next `times` requests of `op` fail with `code`. */
  failOp(op: OpName, code: ErrorCode, times?: number, details?: Record<string, unknown>): void
  /** Lose the answers to the next `times` requests of `op` on the way back (the op runs; the vehicle hears nothing). */
  loseAnswers(op: OpName, times: number): void
  close(): Promise<void>
}

/** What a made-up peer's stations cost (minor units per kWh) and deliver (kW). */
export const FAKE_PEER_PRICE = 79
const FAKE_PEER_POWER_KW = 50

const HUB_USER = 'fake-hub'
const HUB_PASSWORD = 'fake-hub-secret'

interface Session {
  sessionId: string
  stationId: string
  /** Where the session runs: this hub, or a made-up peer (roaming). */
  hubId: string
  priceMinorPerKwh: number
  vehicleId: string
  startedMs: number
  meterStartWh: number
  powerW: number
  maxWh: number | undefined
  stoppedMs: number | null
}

export function defaultStations(center: Position, n = 4): Omit<Station, 'hubId' | 'currency'>[] {
  return Array.from({ length: n }, (_, i) => ({
    stationId: `S${i + 1}`,
    position: { lat: center.lat + 0.01 * (i + 1), lon: center.lon + 0.01 * (i % 2) },
    powerKw: 22,
    priceMinorPerKwh: 73,
    status: 'available' as const,
    online: true,
  }))
}

export async function startFakeHub(o: FakeHubOptions = {}): Promise<FakeHub> {
  const hubId = o.hubId ?? 'feira'
  const position = o.position ?? { lat: -12.2664, lon: -38.9663 }
  const currency = o.currency ?? 'BRL'
  const now = o.now ?? Date.now
  const speedup = o.energySpeedup ?? 1
  const vehicles = o.vehicles ?? {}
  const peers = o.peers ?? []
  const stations: Station[] = (o.stations ?? defaultStations(position)).map((s) => ({ ...s, hubId, currency }))
  const users = new WeakMap<Client, string>()
  // Stations and reservations: the real hub's services and op handlers on a MemoryStore.
  const core = createHubContext({
    config: hubConfig({
      hubId,
      name: o.name ?? 'Fake Hub',
      city: o.city ?? 'Feira de Santana',
      position,
      currency,
      stations: stations.map((st) => ({ stationId: st.stationId, position: st.position, powerKw: st.powerKw, priceMinorPerKwh: st.priceMinorPerKwh, password: 'fake-station-pw' })),
      vehicles: [],
      rules: {
        windowMinutes: o.windowMinutes ?? 120,
        minLeadMinutes: o.minLeadMinutes ?? 120,
        ...(o.maxReservationsPerVehicle !== undefined ? { maxReservationsPerVehicle: o.maxReservationsPerVehicle } : {}),
        ...(o.maxAdvanceDays !== undefined ? { maxAdvanceDays: o.maxAdvanceDays } : {}),
      },
    }),
    store: new MemoryStore(),
    clock: { ...systemClock, now },
  })
  for (const st of stations) {
    core.stations.applyState(st.stationId, { online: st.online, status: st.status, sessionId: null, meterWh: null, agentVersion: 'fake', ts: formatTime(now()) })
  }
  const minLeadMs = core.rules.minLeadMs

  const allowed = (user: string | undefined, password: string): boolean => {
    if (user === undefined) return false
    if (user === HUB_USER) return password === HUB_PASSWORD
    if (Object.hasOwn(vehicles, user)) return vehicles[user] === password
    const p = o.vehiclePattern
    return p !== undefined && user.startsWith(p.prefix) && password === p.password
  }

  /** Request ids whose answer the broker drops (loseAnswers). */
  const losing = new Set<string>()
  const broker = await startAedes({
    authorizeForward: (_client, packet) => {
      if (losing.size === 0 || !packet.topic.startsWith('voltway/v1/vehicles/')) return packet
      const json = parseJsonObject(packet.payload)
      const id = json.ok ? json.value.id : undefined
      return typeof id === 'string' && losing.delete(id) ? null : packet
    },
    authenticate: (client, username, password, done) => {
      if (allowed(username, password?.toString('utf8') ?? '')) {
        users.set(client, username as string)
        done(null, true)
      } else {
        done(Object.assign(new Error('bad username or password'), { returnCode: 4 as const }), false)
      }
    },
    authorizePublish: (client, packet, cb) => {
      const user = client ? users.get(client) : undefined
      if (user === HUB_USER) return cb(null)
      const p = packet.topic.split('/')
      cb(p.length === 6 && p[2] === 'hubs' && p[4] === 'req' && p[5] === user ? null : new Error('forbidden'))
    },
    authorizeSubscribe: (client, sub, cb) => {
      const user = users.get(client)
      if (user === HUB_USER || sub.topic.startsWith(`voltway/v1/vehicles/${user}/`)) return cb(null, sub)
      cb(new Error('forbidden'))
    },
  })
  // Small request/reply messages: turn Nagle off on every socket (the hub's own and the broker's).
  broker.broker.on('client', (c) => {
    const conn: unknown = (c as unknown as { conn?: unknown }).conn
    if (conn instanceof Socket) conn.setNoDelay(true)
  })
  const client: MqttClient = await connectAsync(broker.url, { username: HUB_USER, password: HUB_PASSWORD, reconnectPeriod: 0, protocolVersion: 5 })
  if (client.stream instanceof Socket) client.stream.setNoDelay(true)

  const receipts: Receipt[] = []
  const sessions = new Map<string, Session>()
  /** Newest last; a cancelled trip stays, as the hub's trip.list shows it. */
  const trips = new Map<string, { vehicleId: string; reservationIds: string[]; summary: TripSummary }>()
  const failures = new Map<OpName, { code: ErrorCode; times: number; details?: Record<string, unknown> }>()
  const losses = new Map<OpName, number>()
  let seq = 0
  const id = (p: string): string => `${p}${(++seq).toString(36)}`

  const routesTo = (destination: string): Route[] => {
    const self = { hubId, name: o.name ?? 'Fake Hub', city: o.city ?? 'Feira de Santana', position }
    const dest = peers.find((p) => p.hubId === destination)
    if (!dest) throw new VoltwayError('NOT_FOUND', `no route to ${destination}`)
    const routes: Route[] = [{ routeId: `${hubId}-${destination}-0`, hops: [self, dest], distanceKm: Math.round(distanceKm(position, dest.position) * 1.25) }]
    peers
      .filter((p) => p.hubId !== destination)
      .forEach((via, i) => {
        const d = distanceKm(position, via.position) + distanceKm(via.position, dest.position)
        routes.push({ routeId: `${hubId}-${destination}-${i + 1}`, hops: [self, via, dest], distanceKm: Math.round(d * 1.25) })
      })
    return routes.sort((a, b) => a.distanceKm - b.distanceKm)
  }

  const energyOf = (s: Session): number => {
    const end = s.stoppedMs ?? now()
    const wh = Math.floor(((s.powerW * (end - s.startedMs)) / 3_600_000) * speedup)
    return s.maxWh !== undefined ? Math.min(wh, s.maxWh) : wh
  }

  const real = coreOpHandlers(core)
  const cancelLocal = async (vehicleId: string, reservationId: string): Promise<void> => {
    await core.store.reservations.cancelReservation(reservationId, vehicleId)
  }
  const handlers: HandlerTable = {
    'hub.info': async () => ({ hubId, name: o.name ?? 'Fake Hub', city: o.city ?? 'Feira de Santana', position, stations: stations.length, peers: peers.map((p) => p.hubId) }),
    'station.list': real['station.list'],
    'station.nearest': real['station.nearest'],
    'reservation.create': real['reservation.create'],
    'reservation.cancel': real['reservation.cancel'],
    'reservation.list': real['reservation.list'],
    'route.list': async (args) => {
      const routes = routesTo(args.destination)
      const route = routes[args.index]
      if (!route) throw new VoltwayError('NOT_FOUND', `route index ${args.index} out of ${routes.length}`)
      return { destination: args.destination, index: args.index, total: routes.length, route }
    },
    'route.reserve': async (args, ctx) => {
      const [, dest, idx] = /^.+-(.+)-(\d+)$/.exec(args.routeId) ?? []
      const route = dest ? routesTo(dest)[Number(idx)] : undefined
      if (!route || route.routeId !== args.routeId) throw new VoltwayError('NOT_FOUND', `no route ${args.routeId}`)
      if (args.times.length !== route.hops.length) throw new VoltwayError('BAD_REQUEST', `route has ${route.hops.length} hops, got ${args.times.length} times`)
      const made: Reservation[] = []
      try {
        let from = args.position
        const legs = []
        for (const [i, hop] of route.hops.entries()) {
          const at = args.times[i] as string
          let r: Reservation
          if (hop.hubId === hubId) r = await core.reservations.create(ctx.vehicleId, { at, position: from, rangeKm: args.rangeKm })
          else {
            if (parseTime(at) < now() + minLeadMs) throw new VoltwayError('TOO_SOON', 'hop time too soon')
            if (distanceKm(from, hop.position) > args.rangeKm) throw new VoltwayError('OUT_OF_RANGE', `hop ${i} beyond range`)
            r = { reservationId: id('R'), stationId: `${hop.hubId}-1`, hubId: hop.hubId, vehicleId: ctx.vehicleId, position: hop.position, at, windowStart: at, windowEnd: at }
          }
          made.push(r)
          from = r.position
          legs.push({ hubId: r.hubId, stationId: r.stationId, position: r.position, at: r.at, reservationId: r.reservationId })
        }
        const tripId = id('T')
        const summary: TripSummary = { tripId, routeId: route.routeId, state: 'confirmed', createdAt: formatTime(now()), legs: legs.map((l) => ({ hubId: l.hubId, at: l.at, stationId: l.stationId, reservationId: l.reservationId })), failure: null }
        trips.set(tripId, { vehicleId: ctx.vehicleId, reservationIds: made.map((r) => r.reservationId), summary })
        return { trip: { tripId, legs } }
      } catch (err) {
        for (const r of made) if (r.hubId === hubId) await cancelLocal(ctx.vehicleId, r.reservationId)
        const reason = err instanceof VoltwayError ? err.code : 'INTERNAL'
        throw new VoltwayError('ROUTE_FAILED', `hop ${made.length} failed: ${reason}`, { failedHop: made.length, reason, rolledBack: true })
      }
    },
    'trip.cancel': async (args, ctx) => {
      const t = trips.get(args.tripId)
      if (!t || t.vehicleId !== ctx.vehicleId || t.summary.state === 'cancelled') throw new VoltwayError('NOT_FOUND', `no trip ${args.tripId}`)
      t.summary = { ...t.summary, state: 'cancelled' }
      let n = 0
      for (const rid of t.reservationIds) {
        await cancelLocal(ctx.vehicleId, rid)
        n++
      }
      return { cancelled: n }
    },
    'trip.list': async (args, ctx) => ({
      trips: [...trips.values()]
        .filter((x) => x.vehicleId === ctx.vehicleId)
        .map((x) => x.summary)
        .reverse()
        .slice(0, args.limit),
    }),
    'charge.start': async (args, ctx) => {
      if (args.hubId !== undefined && args.hubId !== hubId) {
        if (!peers.some((p) => p.hubId === args.hubId)) throw new VoltwayError('NOT_FOUND', `no hub ${args.hubId} among the peers of hub ${hubId}`, { hubId: args.hubId, peers: peers.map((p) => p.hubId) })
        const sessionId = id('P')
        const s: Session = { sessionId, stationId: args.stationId, hubId: args.hubId, priceMinorPerKwh: FAKE_PEER_PRICE, vehicleId: ctx.vehicleId, startedMs: now(), meterStartWh: 1000, powerW: FAKE_PEER_POWER_KW * 1000, maxWh: args.maxWh, stoppedMs: null }
        sessions.set(sessionId, s)
        return { session: { sessionId, stationId: s.stationId, startedAt: formatTime(s.startedMs), meterStartWh: s.meterStartWh } }
      }
      const st = stations.find((s) => s.stationId === args.stationId)
      if (!st) throw new VoltwayError('NOT_FOUND', `no station ${args.stationId}`)
      if (!st.online) throw new VoltwayError('STATION_OFFLINE', `station ${args.stationId} is offline`)
      if ([...sessions.values()].some((s) => s.hubId === hubId && s.stationId === st.stationId && s.stoppedMs === null)) throw new VoltwayError('STATION_BUSY', `station ${st.stationId} is charging`)
      const sessionId = id('C')
      const s: Session = { sessionId, stationId: st.stationId, hubId, priceMinorPerKwh: st.priceMinorPerKwh, vehicleId: ctx.vehicleId, startedMs: now(), meterStartWh: 1000, powerW: st.powerKw * 1000, maxWh: args.maxWh, stoppedMs: null }
      sessions.set(sessionId, s)
      return { session: { sessionId, stationId: st.stationId, startedAt: formatTime(s.startedMs), meterStartWh: s.meterStartWh } }
    },
    'charge.status': async (args, ctx) => {
      const s = sessions.get(args.sessionId)
      if (!s || s.vehicleId !== ctx.vehicleId) throw new VoltwayError('NOT_FOUND', `no session ${args.sessionId}`)
      const energyWh = energyOf(s)
      const full = s.maxWh !== undefined && energyWh >= s.maxWh
      return {
        session: {
          sessionId: s.sessionId,
          stationId: s.stationId,
          startedAt: formatTime(s.startedMs),
          meterStartWh: s.meterStartWh,
          vehicleId: s.vehicleId,
          hubId: s.hubId,
          state: s.stoppedMs !== null || full ? ('stopped' as const) : ('charging' as const),
          energyWh,
          powerW: s.stoppedMs !== null || full ? 0 : s.powerW,
          costMinor: costMinor(energyWh, s.priceMinorPerKwh),
          currency,
        },
      }
    },
    'charge.stop': async (args, ctx) => {
      const s = sessions.get(args.sessionId)
      if (!s || s.vehicleId !== ctx.vehicleId) throw new VoltwayError('NOT_FOUND', `no session ${args.sessionId}`)
      s.stoppedMs ??= now()
      const energyWh = energyOf(s)
      const receipt: Receipt = {
        sessionId: s.sessionId,
        stationId: s.stationId,
        hubId: s.hubId,
        vehicleId: s.vehicleId,
        startedAt: formatTime(s.startedMs),
        endedAt: formatTime(s.stoppedMs),
        energyWh,
        priceMinorPerKwh: s.priceMinorPerKwh,
        costMinor: costMinor(energyWh, s.priceMinorPerKwh),
        currency,
      }
      if (!receipts.some((r) => r.sessionId === receipt.sessionId)) receipts.push(receipt)
      sessions.delete(s.sessionId)
      return { receipt }
    },
    'history.list': async (args, ctx) => ({ receipts: receipts.filter((r) => r.vehicleId === ctx.vehicleId).slice(-args.limit), partial: false, unreachableHubs: [] }),
  }

  // Wrap every handler so tests can inject failures.
  const table: HandlerTable = {}
  for (const [op, h] of Object.entries(handlers) as [OpName, (a: unknown, c: unknown) => Promise<unknown>][]) {
    ;(table as Record<string, unknown>)[op] = async (args: unknown, ctx: RequestContext) => {
      const lose = losses.get(op) ?? 0
      if (lose > 0) {
        losses.set(op, lose - 1)
        losing.add(ctx.requestId)
      }
      const f = failures.get(op)
      if (f && f.times > 0) {
        f.times--
        throw new VoltwayError(f.code, `injected ${f.code}`, f.details)
      }
      return h(args, ctx)
    }
  }

  const hub: FakeHub = {
    url: broker.url,
    port: broker.port,
    hubId,
    broker,
    requests: 0,
    receipts,
    failOp(op, code, times = Number.POSITIVE_INFINITY, details) {
      failures.set(op, details ? { code, times, details } : { code, times })
    },
    loseAnswers(op, times) {
      losses.set(op, times)
    },
    async close() {
      await server.stop()
      await client.endAsync(true)
      await broker.close()
    },
  }
  const server: RpcServer = createRpcServer({ client, hubId, handlers: table, onOutcome: () => void hub.requests++ })
  await server.start()
  return hub
}
