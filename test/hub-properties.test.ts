/**
 * What the hub says, it must accept back. fast-check drives every vehicle op
 * (over MQTT, as raw JSON so invalid arguments reach the hub) and every
 * federation route (over HTTP, as a peer) with generated arguments, valid and
 * invalid, against two real federated hubs with station agents on mock
 * boards, once on memory stores and once on SQLite. Every answer must pass
 * the protocol's own schemas and the hub's own rules (windows, lead time,
 * range, tariff, time order); every id the hub hands out must be accepted
 * when sent back; a refused request changes no state; nothing is INTERNAL.
 */
import t from 'tap'
import fc from 'fast-check'
import { request } from 'undici'
import type { MqttClient } from 'mqtt'
import { connectAsync } from 'mqtt'
import { TestClock } from '../hub/clock.js'
import type { Hub } from '../hub/app.js'
import type { HubConfig } from '../hub/config.js'
import { MemoryStore } from '../hub/store/index.js'
import {
  HTTP_STATUS,
  OPS,
  costMinor,
  formatTime,
  isErrorCode,
  parseTime,
  topics,
  type OpName,
} from '../protocol/index.js'
import { ID_PATTERN } from '../protocol/ids.js'
import { ResponseEnvelope } from '../protocol/schemas/envelope.js'
import { FedErrorBody, FedHubInfo, FedReceipts, FedStations, Hold, HoldConfirmation } from '../protocol/schemas/federation.js'
import { agentConfig, startAgentFor } from './helpers/charging-e2e.js'
import { hubConfig, startTestHub, tempDir } from './helpers/hub.js'
import { freePort, waitUntil } from './helpers/net.js'
import type { StationAgent } from '../station/agent.js'

const T0 = '2026-11-24T12:00:00Z'
const RUNS = Number(process.env.VOLTWAY_PROPERTY_RUNS ?? 30)
/** A fixed seed keeps CI deterministic; `VOLTWAY_PROPERTY_SEED=random` (or a number) explores further. */
const SEED = process.env.VOLTWAY_PROPERTY_SEED === 'random' ? undefined : Number(process.env.VOLTWAY_PROPERTY_SEED ?? 20261130)
/**
 * Each run replays up to 30 commands against real hubs, so shrinking a failure takes minutes: in CI the
 * first failing case is reported whole (seed and path replay it locally, where it shrinks), before the
 * file's timeout can hide it.
 */
const SHRINK = process.env.CI === undefined || process.env.VOLTWAY_PROPERTY_SHRINK === '1'
/** One run of commands that takes longer than this has stalled: it fails, naming the command in flight. */
const RUN_DEADLINE_MS = 30_000
/** How long the cleanup after a failed run may take before the failure is reported anyway. */
const CLEANUP_AFTER_FAILURE_MS = 15_000
/** How long one vehicle request or federation call may go unanswered before the run fails. */
const ANSWER_WAIT_MS = 20_000
const FEIRA = { lat: -12.2664, lon: -38.9663 }
const SALVADOR = { lat: -12.9714, lon: -38.5014 }

/** Ids the hub handed out during a run, sent back by later commands. */
interface Pool {
  hops: number[]
  reservationId: string[]
  sessionId: string[]
  tripId: string[]
  routeId: string[]
  holdId: string[]
}
type PoolKind = Exclude<keyof Pool, 'hops'>
const emptyPool = (): Pool => ({ hops: [], reservationId: [], sessionId: [], tripId: [], routeId: [], holdId: [] })

/** A generated value resolved when the command runs (time from the hub clock, ids from the pool). */
type Gen =
  | { k: 'lit'; v: unknown }
  | { k: 'time'; minutes: number }
  | { k: 'seen'; kind: PoolKind; index: number; fallback: string }
  | { k: 'obj'; fields: Record<string, Gen> }
  | { k: 'arr'; items: Gen[] }
  /** One time per hop of the route last listed (`minutes` from now, then `gap` minutes apart), or `fallback` hops. */
  | { k: 'routeTimes'; minutes: number; gap: number; fallback: number }

const lit = (v: unknown): Gen => ({ k: 'lit', v })

function resolve(g: Gen, now: number, pool: Pool): unknown {
  switch (g.k) {
    case 'lit':
      return g.v
    case 'time':
      return formatTime(now + g.minutes * 60_000)
    case 'seen': {
      const list = pool[g.kind]
      return list.length === 0 ? g.fallback : list[g.index % list.length]
    }
    case 'obj':
      return Object.fromEntries(Object.entries(g.fields).map(([k, v]) => [k, resolve(v, now, pool)]))
    case 'arr':
      return g.items.map((i) => resolve(i, now, pool))
    case 'routeTimes': {
      const n = pool.hops.at(-1) ?? g.fallback
      return Array.from({ length: n }, (_, i) => formatTime(now + (g.minutes + i * g.gap) * 60_000))
    }
  }
}

// --- generators of valid-looking values ---------------------------------------------------------
const idLike = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/)
const seen = (kind: PoolKind): fc.Arbitrary<Gen> =>
  fc.record({ index: fc.nat(), fallback: idLike }).map(({ index, fallback }): Gen => ({ k: 'seen', kind, index, fallback }))
const stationId = fc.oneof(fc.constantFrom('FSA-1', 'FSA-2', 'SSA-1', 'SSA-2').map(lit), idLike.map(lit))
/** Minutes from now: the past, inside the lead time, and days ahead, on and off the minute. */
const time = fc.oneof(
  fc.integer({ min: -180, max: 3 * 24 * 60 }).map((minutes): Gen => ({ k: 'time', minutes })),
  fc.integer({ min: -600, max: 2 * 24 * 3600 }).map((s): Gen => ({ k: 'time', minutes: s / 60 })),
)
const position = fc
  .record({ base: fc.constantFrom(FEIRA, SALVADOR), dLat: fc.double({ min: -0.5, max: 0.5, noNaN: true }), dLon: fc.double({ min: -0.5, max: 0.5, noNaN: true }) })
  .map(({ base, dLat, dLon }) => lit({ lat: base.lat + dLat, lon: base.lon + dLon }))
const rangeKm = fc.oneof(fc.double({ min: 0.01, max: 500, noNaN: true }), fc.integer({ min: 1, max: 20_000 })).map(lit)

/** `arb` one time in `1 + nullWeight`, null otherwise. */
const sometimes = <T>(arb: fc.Arbitrary<T>, nullWeight: number): fc.Arbitrary<T | null> => fc.oneof({ arbitrary: fc.constant(null), weight: nullWeight }, { arbitrary: arb, weight: 1 })

/** Valid-looking args per op: fields drawn from the hub's own domain, optional ones sometimes left out. */
const VALID: Record<OpName, fc.Arbitrary<Record<string, Gen>>> = {
  'hub.info': fc.constant({}),
  'station.list': fc.constant({}),
  'station.nearest': fc.record({ position, rangeKm, at: time, limit: fc.integer({ min: 1, max: 100 }).map(lit) }, { requiredKeys: ['position', 'rangeKm'] }),
  'reservation.create': fc.record({ at: time, position, rangeKm, stationId }, { requiredKeys: ['at', 'position', 'rangeKm'] }),
  'reservation.cancel': fc.oneof(fc.record({ reservationId: fc.oneof(seen('reservationId'), idLike.map(lit)) }), fc.constant({ all: lit(true) })),
  'reservation.list': fc.constant({}),
  'route.list': fc.record({ destination: fc.oneof({ arbitrary: fc.constant(lit('salvador')), weight: 4 }, fc.constantFrom('feira', 'nowhere').map(lit), idLike.map(lit)), index: fc.integer({ min: 0, max: 12 }).map(lit) }, { requiredKeys: ['destination'] }),
  'route.reserve': fc.record({
    routeId: fc.oneof(seen('routeId'), idLike.map(lit)),
    times: fc.oneof(
      fc.array(time, { minLength: 1, maxLength: 3 }).map((items): Gen => ({ k: 'arr', items })),
      fc.record({ minutes: fc.integer({ min: 100, max: 2 * 24 * 60 }), gap: fc.integer({ min: 0, max: 300 }), fallback: fc.integer({ min: 1, max: 3 }) }).map((r): Gen => ({ k: 'routeTimes', ...r })),
    ),
    position,
    rangeKm,
  }),
  'trip.cancel': fc.record({ tripId: fc.oneof(seen('tripId'), idLike.map(lit)) }),
  'trip.list': fc.record({ limit: fc.integer({ min: 1, max: 100 }).map(lit) }, { requiredKeys: [] }),
  'charge.start': fc
    .tuple(fc.constantFrom('FSA-1', 'FSA-1', 'FSA-2', 'nope'), sometimes(fc.oneof(seen('reservationId'), idLike.map(lit)), 3), sometimes(fc.integer({ min: 1, max: 5000 }), 1))
    .map(([stationId, reservationId, maxWh]) => ({ stationId: lit(stationId), ...(reservationId ? { reservationId } : {}), ...(maxWh !== null ? { maxWh: lit(maxWh) } : {}) })),
  'charge.status': fc.record({ sessionId: fc.oneof(seen('sessionId'), idLike.map(lit)) }),
  'charge.stop': fc.record({ sessionId: fc.oneof({ arbitrary: seen('sessionId'), weight: 3 }, idLike.map(lit)) }),
  'history.list': fc.record({ limit: fc.integer({ min: 1, max: 500 }).map(lit) }, { requiredKeys: [] }),
}
const OP_LIST = Object.keys(OPS) as OpName[]

/** Hostile values for one field of otherwise valid args. */
const hostile = fc.oneof(
  fc.constantFrom(null, true, -1, 0, 1e308, -1e308, '', 'x'.repeat(70), '../x', 'a/b', '+', '#', [], {}, { $gt: '' }, '2026-13-40T99:00:00Z', '2026-11-24 18:00'),
  fc.jsonValue({ maxDepth: 2 }),
)

type OpCommand = { kind: 'op'; op: OpName; args: Gen; mutate: { field: string; value: unknown } | null; drop: string | null; protoKey: boolean; advanceMin: number }

/** Ops that need earlier answers (routes, sessions) come up more often, so success paths are reached. */
const OP_WEIGHT: Partial<Record<OpName, number>> = { 'reservation.create': 3, 'route.list': 3, 'route.reserve': 4, 'charge.start': 3, 'charge.stop': 3 }

const opCommand: fc.Arbitrary<OpCommand> = fc
  .oneof(...OP_LIST.map((op) => ({ arbitrary: fc.constant(op), weight: OP_WEIGHT[op] ?? 1 })))
  .chain((op) =>
    fc.record({
      kind: fc.constant('op' as const),
      op: fc.constant(op),
      args: VALID[op].map((fields): Gen => ({ k: 'obj', fields })),
      mutate: sometimes(fc.record({ field: fc.constantFrom('at', 'position', 'rangeKm', 'stationId', 'reservationId', 'sessionId', 'tripId', 'routeId', 'times', 'limit', 'maxWh', 'destination', 'index', 'all'), value: hostile }), 4),
      drop: sometimes(fc.constantFrom('at', 'position', 'rangeKm', 'stationId', 'sessionId', 'routeId', 'times', 'tripId', 'destination'), 8),
      protoKey: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
      advanceMin: fc.constantFrom(0, 0, 0, 1, 30, 125),
    }),
  )

/** Federation routes called as the peer `salvador`. */
/** `emptyJson`: a body-less call that still says `Content-Type: application/json`, with no body or `{}` (many clients always send the header). */
type FedCommand = { kind: 'fed'; route: FedRoute; body: Gen; idemKey: string | null; pathId: Gen; emptyJson: 'no' | 'empty' | 'braces' }
type FedRoute = 'hub' | 'stations' | 'holds' | 'confirm' | 'deleteHold' | 'deleteReservation' | 'receipts'
const fedCommand: fc.Arbitrary<FedCommand> = fc.record({
  kind: fc.constant('fed' as const),
  route: fc.constantFrom<FedRoute>('hub', 'stations', 'holds', 'holds', 'holds', 'confirm', 'confirm', 'deleteHold', 'deleteReservation', 'receipts'),
  body: fc.oneof(
    { weight: 4, arbitrary: fc
      .record({
        txId: idLike.map(lit),
        txStartedAt: time,
        vehicleId: fc.constantFrom('V1', 'V2', 'roamer').map(lit),
        // Mostly what a coordinator sends (hours ahead, a range that reaches the stations), so holds are placed and confirmed.
        at: fc.oneof({ arbitrary: fc.integer({ min: 150, max: 3 * 24 * 60 }).map((minutes): Gen => ({ k: 'time', minutes })), weight: 3 }, time),
        from: position,
        rangeKm: fc.oneof({ arbitrary: fc.integer({ min: 60, max: 400 }).map(lit), weight: 3 }, rangeKm),
        ttlSeconds: fc.integer({ min: 1, max: 3600 }).map(lit),
        maxWaitMs: fc.constantFrom(0, 10).map(lit),
      }, { requiredKeys: ['txId', 'txStartedAt', 'vehicleId', 'at', 'from', 'rangeKm', 'ttlSeconds'] })
      .map((fields): Gen => ({ k: 'obj', fields })) },
    fc.record({ lat: fc.double({ min: -95, max: 95, noNaN: true }), lon: fc.double({ min: -185, max: 185, noNaN: true }), rangeKm: fc.oneof(fc.integer({ min: -1, max: 600 }), fc.constant('x')) }).map(lit),
    hostile.map(lit),
  ),
  idemKey: fc.option(fc.stringMatching(/^[A-Za-z0-9-]{8,40}$/), { freq: 8 }),
  emptyJson: fc.constantFrom('no', 'no', 'empty', 'braces'),
  pathId: fc.oneof({ arbitrary: seen('holdId'), weight: 4 }, seen('reservationId'), idLike.map(lit), fc.constantFrom('%2e%2e', 'a%2Fb', 'x'.repeat(80)).map(lit)),
})

// --- the system under test ------------------------------------------------------------------------
interface System {
  clock: TestClock
  feira: Hub
  salvador: Hub
  agents: StationAgent[]
  vehicle: MqttClient
  cfg: HubConfig
  /** The first route from feira to salvador, as route.list gives it. */
  route: { routeId: string; hops: number }
  close(): Promise<void>
}

async function startSystem(storage: 'memory' | 'sqlite'): Promise<System> {
  const clock = new TestClock(T0)
  const [fPort, sPort, fMqtt, sMqtt] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const rules = { windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30 }
  const links = [{ from: 'feira', to: 'salvador', distanceKm: 108 }]
  const feiraCfg = hubConfig({
    mqtt: { listen: { host: '127.0.0.1', port: fMqtt }, allowAnonymous: false },
    http: { host: '127.0.0.1', port: fPort },
    rules,
    federation: { peers: [{ hubId: 'salvador', url: `http://127.0.0.1:${sPort}`, token: 'feira-to-salvador-token', acceptToken: 'salvador-to-feira-token' }], links },
  })
  const salvadorCfg = hubConfig({
    hubId: 'salvador',
    name: 'Salvador Charging',
    city: 'Salvador',
    position: SALVADOR,
    dataDir: tempDir(),
    mqtt: { listen: { host: '127.0.0.1', port: sMqtt }, allowAnonymous: false },
    http: { host: '127.0.0.1', port: sPort },
    stations: [
      { stationId: 'SSA-1', position: { lat: -12.97, lon: -38.5 }, powerKw: 22, priceMinorPerKwh: 80, password: 'ssa-1-pass' },
      { stationId: 'SSA-2', position: { lat: -12.98, lon: -38.51 }, powerKw: 22, priceMinorPerKwh: 80, password: 'ssa-2-pass' },
    ],
    rules,
    federation: { peers: [{ hubId: 'feira', url: `http://127.0.0.1:${fPort}`, token: 'salvador-to-feira-token', acceptToken: 'feira-to-salvador-token' }], links },
  })
  const opts = (): Parameters<typeof startTestHub>[1] => ({ clock, ephemeralPorts: false, commandTimeoutMs: 3000, ...(storage === 'memory' ? { store: new MemoryStore() } : {}) })
  const feira = await startTestHub(feiraCfg, opts())
  const salvador = await startTestHub(salvadorCfg, opts())
  const agents: StationAgent[] = []
  for (const s of feiraCfg.stations) agents.push(await startAgentFor(agentConfig(feira, s)))
  const vehicle = await connectAsync(feira.mqttUrl, { clientId: 'V1', username: 'V1', password: 'v1-pass', protocolVersion: 5, reconnectPeriod: 0 })
  await vehicle.subscribeAsync(topics.vehicleResponse('V1'), { qos: 1 })
  await waitUntil(() => feira.context.stations.all().every((s) => s.live.online), 10_000, 'feira stations online')
  const listed = await requester(vehicle)({ op: 'route.list', args: { destination: 'salvador' } })
  const first = OPS['route.list'].result.parse((listed as { result: unknown }).result).route
  return {
    route: { routeId: first.routeId, hops: first.hops.length },
    clock,
    feira,
    salvador,
    agents,
    vehicle,
    cfg: feiraCfg,
    async close() {
      await vehicle.endAsync(true)
      for (const a of agents) await a.stop()
      await feira.close()
      await salvador.close()
    },
  }
}

/** Send one raw request as V1 and wait for the answer carrying its id. */
function requester(client: MqttClient): (body: { op: string; args: unknown }, argsText?: string) => Promise<unknown> {
  const waiting = new Map<string, (v: unknown) => void>()
  client.on('message', (_topic, payload) => {
    let msg: unknown
    try {
      msg = JSON.parse(payload.toString('utf8'))
    } catch {
      return
    }
    const id = (msg as { id?: unknown }).id
    if (typeof id === 'string') waiting.get(id)?.(msg)
    // Requests go one at a time: an answer with id null belongs to the one waiting (and fails the check).
    else if (id === null && waiting.size === 1) [...waiting.values()][0]?.(msg)
  })
  let n = 0
  return (body, argsText) => {
    const id = `p-${++n}`
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id)
        reject(new Error(`no answer to ${JSON.stringify(body).slice(0, 200)}`))
      }, ANSWER_WAIT_MS)
      waiting.set(id, (v) => {
        clearTimeout(timer)
        waiting.delete(id)
        resolve(v)
      })
      const text = `{"id":${JSON.stringify(id)},"op":${JSON.stringify(body.op)},"args":${argsText ?? JSON.stringify(body.args)}}`
      client.publish(topics.hubRequest('feira', 'V1'), text, { qos: 1 })
    })
  }
}

/**
 * Everything a refused request must leave as it was, at both hubs: the bookings (counts, and V1's
 * reservations), and V1's receipts, or null while a session runs (it may end by itself at any moment, its
 * station reaching maxWh in real time, which closes a receipt; ending a session touches no booking).
 */
interface Snapshot {
  bookings: string
  receipts: string | null
}

async function snapshot(sys: System): Promise<Snapshot> {
  const parts = await Promise.all(
    [sys.feira, sys.salvador].map(async (h) => {
      const store = h.context.store
      const idle = (await store.charging.activeSessions()).length === 0
      return {
        bookings: { counts: await store.reservations.counts(sys.clock.now()), v1: await store.reservations.listVehicleReservations('V1', 0) },
        receipts: idle ? await store.charging.listReceipts('V1', 500) : null,
      }
    }),
  )
  return { bookings: JSON.stringify(parts.map((p) => p.bookings)), receipts: parts.some((p) => p.receipts === null) ? null : JSON.stringify(parts.map((p) => p.receipts)) }
}

/**
 * Whether the state moved between two snapshots around a refused request: the bookings always; the receipts
 * when nothing was charging before (a session that started since is a change too).
 */
async function refusalChangedState(sys: System, before: Snapshot): Promise<boolean> {
  const after = await snapshot(sys)
  count(before.receipts === null ? 'refusal: bookings compared (a session ran)' : 'refusal: bookings and receipts compared')
  return after.bookings !== before.bookings || (before.receipts !== null && after.receipts !== before.receipts)
}

/** Codes a refusal caused by the caller may carry; these change no state. */
const CALLER_CODES = new Set(['BAD_REQUEST', 'UNKNOWN_OP', 'NOT_FOUND', 'FORBIDDEN', 'TOO_SOON', 'OUT_OF_RANGE', 'RESERVATION_CONFLICT', 'NO_STATION_AVAILABLE', 'STATION_BUSY', 'RESERVED_BY_OTHER', 'IDEMPOTENCY_KEY_MISSING', 'IDEMPOTENCY_KEY_REUSED', 'HOLD_EXPIRED', 'UNAUTHORIZED'])

function fail(msg: string, detail: unknown): never {
  throw new Error(`${msg}: ${JSON.stringify(detail).slice(0, 1500)}`)
}

/** The hub's own rules about what it answered, checked on every ok answer. */
function checkResult(sys: System, op: OpName, args: Record<string, unknown>, result: unknown, now: number, pool: Pool): void {
  const parsed = OPS[op].result.safeParse(result)
  if (!parsed.success) fail(`${op}: the answer fails the protocol's own result schema (${parsed.error.message})`, result)
  const r = parsed.data as Record<string, unknown>
  const windowMs = sys.cfg.rules.windowMinutes * 60_000
  const leadMs = sys.cfg.rules.minLeadMinutes * 60_000
  const checkReservation = (res: { reservationId: string; at: string; windowStart: string; windowEnd: string; vehicleId: string; hubId: string }): void => {
    const at = parseTime(res.at)
    if (parseTime(res.windowStart) !== at - windowMs || parseTime(res.windowEnd) !== at + windowMs) fail('a reservation window is not at ± windowMinutes', res)
    if (res.vehicleId !== 'V1') fail('a reservation names another vehicle', res)
    pool.reservationId.push(res.reservationId)
  }
  const checkReceipt = (rc: { startedAt: string; endedAt: string; energyWh: number; priceMinorPerKwh: number; costMinor: number; vehicleId: string }): void => {
    if (rc.costMinor !== costMinor(rc.energyWh, rc.priceMinorPerKwh)) fail('a receipt does not follow the tariff', rc)
    if (parseTime(rc.startedAt) > parseTime(rc.endedAt)) fail('a receipt ends before it starts', rc)
    if (rc.vehicleId !== 'V1') fail("a receipt shows another vehicle's charge", rc)
  }
  switch (op) {
    case 'reservation.create': {
      const res = (r as { reservation: Parameters<typeof checkReservation>[0] }).reservation
      if (parseTime(res.at) < now + leadMs) fail('a reservation was made inside the lead time', { res, now: formatTime(now) })
      checkReservation(res)
      break
    }
    case 'reservation.list':
      for (const res of (r as { reservations: Array<Parameters<typeof checkReservation>[0]> }).reservations) checkReservation(res)
      break
    case 'station.nearest': {
      const list = (r as { stations: Array<{ distanceKm: number }> }).stations
      const limit = typeof args.limit === 'number' ? args.limit : 5
      if (list.length > limit) fail('more stations than the limit', list)
      for (let i = 0; i < list.length; i++) {
        const d = list[i]?.distanceKm ?? 0
        if (d > (args.rangeKm as number) + 1e-6) fail('a station beyond rangeKm', list[i])
        if (i > 0 && d < (list[i - 1]?.distanceKm ?? 0)) fail('stations not nearest first', list)
      }
      break
    }
    case 'route.list': {
      const route = (r as { route: { routeId: string; hops: Array<{ hubId: string }> } }).route
      if (route.hops[0]?.hubId !== 'feira' || route.hops.at(-1)?.hubId !== args.destination) fail('a route does not run from this hub to the destination', route)
      pool.routeId.push(route.routeId)
      pool.hops.push(route.hops.length)
      break
    }
    case 'route.reserve': {
      const trip = (r as { trip: { tripId: string; legs: Array<{ reservationId: string; at: string }> } }).trip
      const times = args.times as string[]
      trip.legs.forEach((leg, i) => {
        if (parseTime(leg.at) !== parseTime(times[i] ?? '')) fail('a trip leg is not at the time asked for', { trip, times })
      })
      pool.tripId.push(trip.tripId)
      break
    }
    case 'charge.start':
      pool.sessionId.push((r as { session: { sessionId: string } }).session.sessionId)
      break
    case 'charge.stop':
      checkReceipt((r as { receipt: Parameters<typeof checkReceipt>[0] }).receipt)
      break
    case 'history.list':
      for (const rc of (r as { receipts: Array<Parameters<typeof checkReceipt>[0]> }).receipts) checkReceipt(rc)
      break
    default:
      break
  }
}

/** Answers seen, by op or route and outcome: the generators must reach the hub's successes, not only its refusals. */
const tally = new Map<string, number>()
const count = (key: string): void => {
  tally.set(key, (tally.get(key) ?? 0) + 1)
}

async function runOp(sys: System, send: ReturnType<typeof requester>, cmd: OpCommand, pool: Pool): Promise<void> {
  if (cmd.advanceMin > 0) sys.clock.advance(cmd.advanceMin * 60_000)
  const now = sys.clock.now()
  const args = resolve(cmd.args, now, pool) as Record<string, unknown>
  if (cmd.mutate) args[cmd.mutate.field] = cmd.mutate.value
  if (cmd.drop) delete args[cmd.drop]
  // Ids the hub handed out go back unchanged: the hub must read them (never BAD_REQUEST for its own ids).
  const sentBack = Object.entries(args)
    .filter(([k, v]) => typeof v === 'string' && (pool as unknown as Record<string, unknown[]>)[k]?.includes(v))
    .map(([k]) => k)
  // A prototype key anywhere in a request is refused (protocol/json.ts), but the answer still carries the id.
  const argsText = cmd.protoKey ? JSON.stringify(args).replace(/^\{/, Object.keys(args).length > 0 ? '{"__proto__":{"polluted":1},' : '{"__proto__":{"polluted":1}') : undefined
  const valid = !cmd.protoKey && OPS[cmd.op].args.safeParse(args).success
  const before = await snapshot(sys)
  const raw = await send({ op: cmd.op, args }, argsText)
  const env = ResponseEnvelope.safeParse(raw)
  if (!env.success) fail(`${cmd.op}: the answer fails the protocol's envelope schema`, raw)
  if (env.data.id === null) fail(`${cmd.op}: answered with id null to a readable id`, raw)
  count(`${cmd.op} ${env.data.ok ? 'ok' : env.data.error.code}`)
  if (env.data.ok) {
    if (!valid) fail(`${cmd.op}: args the schema refuses were accepted`, { args, raw })
    checkResult(sys, cmd.op, OPS[cmd.op].args.parse(args) as Record<string, unknown>, env.data.result, now, pool)
    return
  }
  const e = env.data.error
  if (e.code === 'INTERNAL') fail(`${cmd.op}: INTERNAL for a generated request`, { args, e })
  if (!valid && e.code !== 'BAD_REQUEST') fail(`${cmd.op}: invalid args answered with ${e.code}, not BAD_REQUEST`, { args, e })
  if (e.message.length === 0) fail(`${cmd.op}: an error without a message`, e)
  const blamed = ((e.details?.issues ?? []) as Array<{ path?: unknown }>).map((i) => i.path)
  if (e.code === 'BAD_REQUEST' && sentBack.some((k) => blamed.includes(k))) fail(`${cmd.op}: an id the hub handed out was refused as malformed`, { args, e })
  if (CALLER_CODES.has(e.code) && (await refusalChangedState(sys, before))) fail(`${cmd.op}: a refusal (${e.code}) changed state`, { args, e })
}

const FED_SCHEMA = { hub: FedHubInfo, stations: FedStations, holds: Hold, confirm: HoldConfirmation, receipts: FedReceipts } as const

async function runFed(sys: System, cmd: FedCommand, pool: Pool): Promise<void> {
  const now = sys.clock.now()
  const body = resolve(cmd.body, now, pool)
  // Sent as written: percent-escapes in generated ids reach the router undecoded by us.
  const pathId = String(resolve(cmd.pathId, now, pool))
  const base = `${sys.feira.httpUrl}/federation/v1`
  const spec: { method: 'GET' | 'POST' | 'DELETE'; path: string; json?: unknown } = (() => {
    switch (cmd.route) {
      case 'hub':
        return { method: 'GET', path: '/hub' }
      case 'stations': {
        const b = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : { lat: body }
        // A hold-shaped body becomes the query a coordinator would send: from, rangeKm, at.
        const from = b.from as { lat?: unknown; lon?: unknown } | undefined
        const q = from ? { lat: from.lat, lon: from.lon, rangeKm: b.rangeKm, at: b.at } : b
        const qs = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
        return { method: 'GET', path: `/stations?${qs.toString()}` }
      }
      case 'holds':
        return { method: 'POST', path: '/holds', json: body }
      case 'confirm':
        return { method: 'POST', path: `/holds/${pathId}/confirm` }
      case 'deleteHold':
        return { method: 'DELETE', path: `/holds/${pathId}` }
      case 'deleteReservation':
        return { method: 'DELETE', path: `/reservations/${pathId}` }
      case 'receipts':
        return { method: 'GET', path: `/vehicles/${pathId}/receipts` }
    }
  })()
  const headers: Record<string, string> = { authorization: 'Bearer salvador-to-feira-token' }
  if (cmd.idemKey !== null && spec.method !== 'GET') headers['idempotency-key'] = cmd.idemKey
  let payload: string | undefined = spec.json !== undefined ? JSON.stringify(spec.json) : undefined
  if (spec.method !== 'GET' && payload === undefined && cmd.emptyJson !== 'no') payload = cmd.emptyJson === 'braces' ? '{}' : ''
  if (payload !== undefined) headers['content-type'] = 'application/json'
  const before = await snapshot(sys)
  const res = await request(`${base}${spec.path}`, { method: spec.method, headers, headersTimeout: ANSWER_WAIT_MS, bodyTimeout: ANSWER_WAIT_MS, ...(payload !== undefined ? { body: payload } : {}) })
  const text = await res.body.text()
  const what = `${spec.method} ${spec.path}`
  count(`${cmd.route} ${res.statusCode}`)
  if (res.statusCode === 204) {
    if (text !== '') fail(`${what}: 204 with a body`, text)
    return
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    fail(`${what}: answered ${res.statusCode} with a body that is not JSON`, text)
  }
  if (res.statusCode < 300) {
    const schema = cmd.route in FED_SCHEMA ? FED_SCHEMA[cmd.route as keyof typeof FED_SCHEMA] : null
    if (!schema) fail(`${what}: ${res.statusCode} from a route that answers 204`, json)
    const ok = schema.safeParse(json)
    if (!ok.success) fail(`${what}: the answer fails the protocol's own schema (${ok.error.message})`, json)
    if (cmd.route === 'holds') pool.holdId.push((json as { holdId: string }).holdId)
    if (cmd.route === 'confirm') pool.reservationId.push((json as { reservationId: string }).reservationId)
    return
  }
  const err = FedErrorBody.safeParse(json)
  if (!err.success) fail(`${what}: an error body that fails the protocol's schema`, json)
  const code = err.data.error.code
  if (!isErrorCode(code)) fail(`${what}: an error code outside the protocol's table`, json)
  if (code === 'INTERNAL') fail(`${what}: INTERNAL for a generated request`, { body, json })
  if (spec.method !== 'GET' && spec.json === undefined && code === 'BAD_REQUEST' && cmd.idemKey !== null && ID_PATTERN.test(pathId)) fail(`${what}: a body-less call refused as BAD_REQUEST`, { payload, json })
  if (HTTP_STATUS[code] !== res.statusCode) fail(`${what}: status ${res.statusCode} does not match ${code} (${HTTP_STATUS[code]})`, json)
  if (CALLER_CODES.has(code) && (await refusalChangedState(sys, before))) fail(`${what}: a refusal (${code}) changed state`, { body, json })
}

for (const storage of ['memory', 'sqlite'] as const) {
  t.test(`every op and federation route, valid and invalid, answers within the protocol's schemas and the hub's rules (${storage} store)`, async (t) => {
    const sys = await startSystem(storage)
    t.teardown(() => sys.close())
    const send = requester(sys.vehicle)
    let commands = 0
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof({ arbitrary: opCommand, weight: 3 }, { arbitrary: fedCommand, weight: 1 }), { minLength: 6, maxLength: 30 }), async (cmds) => {
        // Route ids are stable: every run knows the route a vehicle would have listed first.
        const pool = emptyPool()
        pool.routeId.push(sys.route.routeId)
        pool.hops.push(sys.route.hops)
        let inFlight = 'nothing yet'
        let abandoned = false
        let deadline: NodeJS.Timeout | undefined
        const stalled = new Promise<never>((_, reject) => {
          deadline = setTimeout(() => {
            // The stalled run sends nothing more: the cleanup and any later run (shrinking) have the hubs to themselves.
            abandoned = true
            reject(new Error(`the run stalled for ${RUN_DEADLINE_MS} ms, in flight: ${inFlight}`))
          }, RUN_DEADLINE_MS)
        })
        const run = async (): Promise<void> => {
          for (const cmd of cmds) {
            if (abandoned) return
            commands++
            inFlight = JSON.stringify(cmd).slice(0, 600)
            if (cmd.kind === 'op') await runOp(sys, send, cmd, pool)
            else await runFed(sys, cmd, pool)
          }
        }
        const failure = await Promise.race([run(), stalled]).then(
          () => undefined,
          (e: unknown) => e,
        )
        clearTimeout(deadline)
        // Leave the stations free for the next run: stop what charges, cancel what is booked.
        const cleanup = async (): Promise<void> => {
          for (const sessionId of pool.sessionId) await send({ op: 'charge.stop', args: { sessionId } })
          await send({ op: 'reservation.cancel', args: { all: true } })
          for (const holdId of pool.holdId) {
            await request(`${sys.feira.httpUrl}/federation/v1/holds/${holdId}`, { method: 'DELETE', headers: { authorization: 'Bearer salvador-to-feira-token', 'idempotency-key': `cleanup-${holdId}` }, headersTimeout: ANSWER_WAIT_MS, bodyTimeout: ANSWER_WAIT_MS }).then((r) => r.body.dump())
          }
        }
        // A failed run's own error is the report: a cleanup that fails or hangs after it must not replace or delay it.
        if (failure === undefined) await cleanup()
        else {
          let bound: NodeJS.Timeout | undefined
          await Promise.race([cleanup().catch(() => undefined), new Promise<void>((r) => (bound = setTimeout(r, CLEANUP_AFTER_FAILURE_MS)))])
          clearTimeout(bound)
          throw failure
        }
      }),
      { numRuns: RUNS, includeErrorInReport: true, endOnFailure: !SHRINK, ...(SEED !== undefined ? { seed: SEED } : {}) },
    )
    t.ok(commands > RUNS, `${commands} generated commands answered within the schemas and rules`)
    t.comment([...tally].sort().map(([k, n]) => `${k}: ${n}`).join(', '))
    // Each success path was reached at least once, so the rules above were really checked.
    // The state check after refusals ran, receipts included (it once compared nothing, unnoticed).
    t.ok((tally.get('refusal: bookings and receipts compared') ?? 0) > 50, `refusals compared with the state before them: ${tally.get('refusal: bookings and receipts compared') ?? 0}`)
    for (const key of ['reservation.create ok', 'reservation.list ok', 'station.nearest ok', 'route.list ok', 'route.reserve ok', 'charge.start ok', 'charge.stop ok', 'history.list ok', 'holds 201', 'confirm 200', 'stations 200', 'receipts 200']) {
      t.ok((tally.get(key) ?? 0) > 0, `reached: ${key}`)
    }
    tally.clear()
  })
}
