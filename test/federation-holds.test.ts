/**
 * The federation routes of one hub through fastify's inject: holds, confirms,
 * releases, tombstones, reservations, the Idempotency-Key rules and tokens.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { TestClock } from '../hub/clock.js'
import { HubConfigSchema } from '../hub/config.js'
import { REPLAY_HEADER } from '../hub/federation/index.js'
import { createFederation, holdIdFromKey, reservationIdForHold, type Federation } from '../hub/trips/index.js'
import { buildHttpServer } from '../hub/http/server.js'
import { HubMetrics } from '../hub/metrics.js'
import { StationRegistry } from '../hub/stations/index.js'
import { MemoryStore, type SqliteStore, type Store } from '../hub/store/index.js'
import { WriteBatcher } from '../hub/store/sqlite/write-batcher.js'
import { FedErrorBody, FedHubInfo, FedReceipts, FedStations, Hold, HoldConfirmation, OPS, issuesOf, type Receipt } from '../protocol/index.js'
import { receiptsOnly } from './helpers/federation-hubs.js'
import { waitUntil } from './helpers/net.js'
import { tempSqlite, type TempSqlite } from './helpers/store-sqlite.js'

const SALVADOR = 'Bearer salvador-to-ilheus'
const FEIRA = 'Bearer feira-to-ilheus'
const HERE = { lat: -14.79, lon: -39.04 }

const receipt: Receipt = {
  sessionId: 'sess-1', stationId: 'IOS-1', hubId: 'ilheus', vehicleId: 'V1', startedAt: '2026-11-24T10:00:00Z', endedAt: '2026-11-24T10:30:00Z',
  energyWh: 1000, priceMinorPerKwh: 73, costMinor: 73, currency: 'BRL',
}

interface Rig {
  app: FastifyInstance
  fed: Federation
  store: Store
  clock: TestClock
  at: (minutes: number) => string
  hold: (body: Record<string, unknown>, key: string, auth?: string) => Promise<LightMyRequestResponse>
  req: (method: 'GET' | 'POST' | 'DELETE', url: string, opts?: { key?: string; auth?: string | null; body?: unknown }) => Promise<LightMyRequestResponse>
}

/** `tmp`: open the SQLite store in that directory (a second hub process on the same file); its owner disposes of it. */
async function rig(t: Test, storage: 'memory' | 'sqlite' = 'memory', opts: { tmp?: TempSqlite; clock?: TestClock; serverMaxWaitMs?: number; maxReservationsPerVehicle?: number } = {}): Promise<Rig> {
  const clock = opts.clock ?? new TestClock('2026-11-24T12:00:00Z')
  const ownTmp = storage === 'sqlite' && !opts.tmp ? tempSqlite() : null
  const tmp = opts.tmp ?? ownTmp
  const store: Store = tmp ? tmp.open() : new MemoryStore()
  const config = HubConfigSchema.parse({
    hubId: 'ilheus', name: 'Ilhéus Charging', city: 'Ilhéus', position: { lat: -14.7936, lon: -39.0463 }, currency: 'BRL', dataDir: '/x',
    http: { host: '127.0.0.1', port: 0 },
    stations: [
      { stationId: 'IOS-1', position: { lat: -14.79, lon: -39.04 }, powerKw: 22, priceMinorPerKwh: 73, password: 'p' },
      { stationId: 'IOS-2', position: { lat: -14.8, lon: -39.05 }, powerKw: 22, priceMinorPerKwh: 73, password: 'p' },
    ],
    federation: {
      peers: [
        { hubId: 'salvador', url: 'http://127.0.0.1:9', token: 'ilheus-to-salvador', acceptToken: 'salvador-to-ilheus' },
        { hubId: 'feira', url: 'http://127.0.0.1:9', token: 'ilheus-to-feira', acceptToken: 'feira-to-ilheus' },
      ],
      links: [],
    },
    ...(opts.maxReservationsPerVehicle !== undefined ? { rules: { maxReservationsPerVehicle: opts.maxReservationsPerVehicle } } : {}),
  })
  const stations = new StationRegistry({ hubId: 'ilheus', currency: 'BRL', stations: config.stations, clock })
  const logger = pino({ level: 'silent' })
  const fed = createFederation({
    config, store, clock, logger, stations,
    receipts: async (v) => (v === 'V1' ? [receipt] : []),
    roaming: receiptsOnly(async (_peer, v) => (v === 'V1' ? [receipt] : [])),
    tuning: { serverMaxWaitMs: opts.serverMaxWaitMs ?? 300 },
  })
  const metrics = new HubMetrics('ilheus', { stationsOnline: () => 0, stationsTotal: () => 2, bookings: () => store.reservations.counts(clock.now()) })
  const app = buildHttpServer({ logger, metrics, peers: config.federation.peers, health: async () => ({ ok: true }), federationRoutes: [fed.routes] })
  await app.ready()
  t.teardown(async () => {
    await fed.close()
    await app.close()
    if (ownTmp) await ownTmp.dispose()
    else if (!tmp) await store.close()
  })
  const at = (minutes: number): string => new Date(clock.now() + minutes * 60_000).toISOString().replace('.000Z', 'Z')
  const req: Rig['req'] = (method, url, opts = {}) => {
    const headers: Record<string, string> = {}
    if (opts.auth !== null) headers.authorization = opts.auth ?? SALVADOR
    if (opts.key !== undefined) headers['idempotency-key'] = opts.key
    return app.inject({ method, url, headers, ...(opts.body !== undefined ? { payload: opts.body as Record<string, unknown> } : {}) })
  }
  const hold: Rig['hold'] = (body, key, auth) => req('POST', '/federation/v1/holds', { key, body, ...(auth ? { auth } : {}) })
  return { app, fed, store, clock, at, hold, req }
}

function holdBody(r: Rig, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    txId: 'tx-1', txStartedAt: '2026-11-24T11:59:00Z', vehicleId: 'V1', at: r.at(180), from: HERE, rangeKm: 50, ttlSeconds: 30, ...over,
  }
}

const errorCode = (res: LightMyRequestResponse): string => FedErrorBody.parse(res.json()).error.code

/**
 * Holds y1 and y2 placed by younger transactions, then an older one's hold `old` on the same station sent
 * (key `slow`), waiting for them (wait-die: the older waits): its body and its answer to come.
 */
async function holdWaitingBehindYounger(r: Rig): Promise<{ body: Record<string, unknown>; waiting: ReturnType<Rig['hold']> }> {
  await r.hold(holdBody(r, { holdId: 'y1', txId: 'y1', txStartedAt: '2026-11-24T11:59:50Z' }), 'a')
  await r.hold(holdBody(r, { holdId: 'y2', txId: 'y2', txStartedAt: '2026-11-24T11:59:50Z' }), 'b')
  const body = holdBody(r, { holdId: 'old', txId: 'old', txStartedAt: '2026-11-24T11:00:00Z', maxWaitMs: 5000 })
  const waiting = r.hold(body, 'slow')
  await waitUntil(() => r.fed.holds.waiting > 0, 5000, 'the first request to wait')
  return { body, waiting }
}

for (const storage of ['memory', 'sqlite'] as const) {
  t.test(`[${storage}] a hold is placed at the nearest free station, 201 with its expiry`, async (t) => {
    const r = await rig(t, storage)
    const res = await r.hold(holdBody(r, { holdId: 'hold-a' }), 'k1')
    t.equal(res.statusCode, 201)
    t.same(Hold.parse(res.json()), { holdId: 'hold-a', stationId: 'IOS-1', position: { lat: -14.79, lon: -39.04 }, at: r.at(180), expiresAt: '2026-11-24T12:00:30Z' })
    const second = await r.hold(holdBody(r, { holdId: 'hold-b', txId: 'tx-2' }), 'k2')
    t.equal(Hold.parse(second.json()).stationId, 'IOS-2', 'the next one gets the other station')
    const third = await r.hold(holdBody(r, { holdId: 'hold-c', txId: 'tx-0', txStartedAt: '2026-11-24T11:00:00Z' }), 'k3')
    t.equal(third.statusCode, 409)
    t.match(third.json(), { error: { code: 'NO_STATION_AVAILABLE', details: { waitDie: 'timeout' } } }, 'an older tx waits, bounded, for younger holds')
    const fourth = await r.hold(holdBody(r, { holdId: 'hold-d', txId: 'tx-9', txStartedAt: '2026-11-24T11:59:30Z' }), 'k4')
    t.match(fourth.json(), { error: { code: 'NO_STATION_AVAILABLE', details: { waitDie: 'died' } } }, 'a younger tx dies at once')
  })

  t.test(`[${storage}] confirm turns a hold into a reservation; repeated, it answers the same`, async (t) => {
    const r = await rig(t, storage)
    await r.hold(holdBody(r, { holdId: 'hold-a' }), 'k1')
    const c = await r.req('POST', '/federation/v1/holds/hold-a/confirm', { key: 'c1', body: {} })
    t.equal(c.statusCode, 200)
    t.same(HoldConfirmation.parse(c.json()), { reservationId: reservationIdForHold('hold-a'), holdId: 'hold-a', stationId: 'IOS-1', position: { lat: -14.79, lon: -39.04 }, at: r.at(180) })
    const again = await r.req('POST', '/federation/v1/holds/hold-a/confirm', { key: 'c2' })
    t.same(again.json(), c.json(), 'a confirm under a new key (and without a body) is idempotent too')
    t.same((await r.store.reservations.listVehicleReservations('V1', 0)).map((x) => x.reservationId), ['r-hold-a'])
  })

  t.test(`[${storage}] a hold past its TTL is gone; confirming it re-books the slot only while it is free`, async (t) => {
    const r = await rig(t, storage)
    await r.hold(holdBody(r, { holdId: 'late' }), 'k1')
    r.clock.advanceSeconds(31)
    t.equal((await r.store.reservations.counts(r.clock.now())).activeHolds, 0, 'expired holds block nothing')
    const ok = await r.req('POST', '/federation/v1/holds/late/confirm', { key: 'c1' })
    t.equal(ok.statusCode, 200, 'still free: confirmed')
    await r.hold(holdBody(r, { holdId: 'late2', txId: 'tx-2' }), 'k2')
    r.clock.advanceSeconds(31)
    await r.fed.holds.sweep()
    const taker = await r.hold(holdBody(r, { holdId: 'taker', txId: 'tx-3' }), 'k3')
    t.equal(Hold.parse(taker.json()).stationId, 'IOS-2', 'someone else takes the expired hold station')
    const gone = await r.req('POST', '/federation/v1/holds/late2/confirm', { key: 'c2' })
    t.equal(gone.statusCode, 410)
    t.equal(errorCode(gone), 'HOLD_EXPIRED')
  })

  t.test(`[${storage}] DELETE of a hold is 204, also when gone, and frees the station`, async (t) => {
    const r = await rig(t, storage)
    await r.hold(holdBody(r, { holdId: 'h1' }), 'k1')
    t.equal((await r.req('DELETE', '/federation/v1/holds/h1', { key: 'd1' })).statusCode, 204)
    t.equal((await r.req('DELETE', '/federation/v1/holds/h1', { key: 'd2' })).statusCode, 204)
    t.equal((await r.req('DELETE', '/federation/v1/holds/never-was', { key: 'd3' })).statusCode, 204)
    t.equal((await r.store.reservations.counts(r.clock.now())).activeHolds, 0)
    t.equal(errorCode(await r.req('POST', '/federation/v1/holds/h1/confirm', { key: 'c1' })), 'HOLD_EXPIRED', 'a released hold is not confirmed')
  })

  t.test(`[${storage}] a DELETE that arrives before its hold's POST leaves a tombstone: the late POST is refused`, async (t) => {
    const r = await rig(t, storage)
    t.equal((await r.req('DELETE', '/federation/v1/holds/early', { key: 'd1' })).statusCode, 204)
    const late = await r.hold(holdBody(r, { holdId: 'early' }), 'k1')
    t.equal(late.statusCode, 410)
    t.match(late.json(), { error: { code: 'HOLD_EXPIRED', details: { holdId: 'early', released: true } } })
    t.equal((await r.store.reservations.counts(r.clock.now())).activeHolds, 0, 'nothing is held')
    const other = await r.hold(holdBody(r, { holdId: 'early' }), 'k1', FEIRA)
    t.equal(other.statusCode, 400, "another peer cannot use the id (nor lift the tombstone)")
  })

  t.test(`[${storage}] a DELETE while the POST waits (wait-die) wins over it`, async (t) => {
    const r = await rig(t, storage)
    await r.hold(holdBody(r, { holdId: 'young-1', txId: 'young-1', txStartedAt: '2026-11-24T11:59:50Z' }), 'y1')
    await r.hold(holdBody(r, { holdId: 'young-2', txId: 'young-2', txStartedAt: '2026-11-24T11:59:50Z' }), 'y2')
    const waiting = r.hold(holdBody(r, { holdId: 'old', txId: 'old', txStartedAt: '2026-11-24T11:00:00Z', maxWaitMs: 5000 }), 'o1')
    await waitUntil(() => r.fed.holds.waiting > 0, 5000, 'the POST to wait')
    t.equal((await r.req('DELETE', '/federation/v1/holds/old', { key: 'do' })).statusCode, 204)
    const res = await waiting
    t.equal(res.statusCode, 410, 'the waiting POST gives up as released')
    await r.req('DELETE', '/federation/v1/holds/young-1', { key: 'dy' })
    t.equal((await r.store.reservations.counts(r.clock.now())).activeHolds, 1)
  })

  t.test(`[${storage}] an older transaction waiting for a younger hold gets the station once it is released`, async (t) => {
    const r = await rig(t, storage)
    await r.hold(holdBody(r, { holdId: 'y1', txId: 'y1', txStartedAt: '2026-11-24T11:59:50Z' }), 'y1')
    await r.hold(holdBody(r, { holdId: 'y2', txId: 'y2', txStartedAt: '2026-11-24T11:59:50Z' }), 'y2')
    const waiting = r.hold(holdBody(r, { holdId: 'old', txId: 'old', txStartedAt: '2026-11-24T11:00:00Z', maxWaitMs: 5000 }), 'o1')
    await waitUntil(() => r.fed.holds.waiting > 0, 5000, 'the POST to wait')
    await r.req('DELETE', '/federation/v1/holds/y2', { key: 'd' })
    const res = await waiting
    t.equal(res.statusCode, 201)
    t.equal(Hold.parse(res.json()).stationId, 'IOS-2')
  })
}

t.test("[sqlite] a peer's hold and its confirm are one commit each here: the key's claim, the effect, its ledger entry and the answer", async (t) => {
  const r = await rig(t, 'sqlite')
  const batcher = WriteBatcher.for((r.store as SqliteStore).db)
  const commitsOf = async (call: () => Promise<LightMyRequestResponse>): Promise<{ res: LightMyRequestResponse; commits: number }> => {
    const before = batcher.commits
    const res = await call()
    return { res, commits: batcher.commits - before }
  }
  const placed = await commitsOf(() => r.hold(holdBody(r, { holdId: 'h1' }), 'k1'))
  t.equal(placed.res.statusCode, 201)
  t.equal(placed.commits, 1)
  t.match(await r.store.trips.getPeerHold('h1'), { state: 'placed', peerHubId: 'salvador' })
  const confirmed = await commitsOf(() => r.req('POST', '/federation/v1/holds/h1/confirm', { key: 'c1' }))
  t.equal(confirmed.res.statusCode, 200)
  t.equal(confirmed.commits, 1)
  t.match(await r.store.trips.getPeerHold('h1'), { state: 'confirmed', reservationId: reservationIdForHold('h1') })
  // The answers were stored in those writes: a repeat gets the same bytes, and books nothing.
  for (const [again, first] of [
    [await r.hold(holdBody(r, { holdId: 'h1' }), 'k1'), placed.res],
    [await r.req('POST', '/federation/v1/holds/h1/confirm', { key: 'c1' }), confirmed.res],
  ] as const) {
    t.equal(again.body, first.body)
    t.equal(again.headers[REPLAY_HEADER], 'true')
  }
  t.equal((await r.store.reservations.listVehicleReservations('V1', 0)).length, 1)
})

t.test('[sqlite] after a 5xx before any write, the key stays the request\'s: the same key with another body is 422', async (t) => {
  const r = await rig(t, 'sqlite')
  const db = (r.store as SqliteStore).db
  // A storage fault on the hold's INSERT: the keyed write rolls back, its claim with it.
  db.exec(`CREATE TRIGGER refuse_hold BEFORE INSERT ON holds BEGIN SELECT RAISE(ABORT, 'disk says no'); END`)
  t.ok((await r.hold(holdBody(r, { holdId: 'h1' }), 'k')).statusCode >= 500)
  db.exec('DROP TRIGGER refuse_hold')
  const other = await r.hold(holdBody(r, { holdId: 'h1', rangeKm: 49 }), 'k')
  t.equal(other.statusCode, 422)
  t.equal(errorCode(other), 'IDEMPOTENCY_KEY_REUSED')
  t.equal(await r.store.reservations.getHold('h1'), null, 'nothing booked for the other body')
  t.equal((await r.hold(holdBody(r, { holdId: 'h1' }), 'k')).statusCode, 201, 'the same request runs afresh')
})

t.test('[sqlite] a hold whose write meets a locked database fails at once: no second write to claim the key, which would wait out the lock again', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const r = await rig(t, 'sqlite', { tmp })
  ;(r.store as SqliteStore).db.pragma('busy_timeout = 50')
  let claims = 0
  const claim = r.store.idempotency.claim.bind(r.store.idempotency)
  r.store.idempotency.claim = (input) => {
    claims++
    return claim(input)
  }
  const locker = tmp.open()
  locker.db.exec('BEGIN IMMEDIATE')
  try {
    const res = await r.hold(holdBody(r, { holdId: 'h1' }), 'k')
    // 5xx (startHub maps a busy database to 503 STORAGE_UNAVAILABLE; this rig's server answers INTERNAL).
    t.ok(res.statusCode >= 500, `a 5xx: ${res.statusCode}`)
    t.equal(claims, 0, 'no claim attempted after the failed write')
  } finally {
    locker.db.exec('ROLLBACK')
  }
  t.equal((await r.hold(holdBody(r, { holdId: 'h1' }), 'k')).statusCode, 201, 'once the lock is gone the same request books')
})

t.test('[sqlite] a run whose claim lapsed and was taken by another process books nothing after the key was answered', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  // Two hub processes on one file. P1 stalls a whole claim lease (120 s) between its key's claim and its
  // booking: P2's clock is 121 s ahead. P1 lets a hold wait up to 5 s, P2 up to 300 ms.
  const p1 = await rig(t, 'sqlite', { tmp, serverMaxWaitMs: 5000 })
  const p2 = await rig(t, 'sqlite', { tmp, clock: new TestClock('2026-11-24T12:02:01Z') })
  const at = p1.at(180)
  // A younger trip's hold on the only station in range (placed by P2: live on both clocks).
  t.equal((await p2.hold(holdBody(p2, { holdId: 'y1', txId: 'y1', vehicleId: 'V7', txStartedAt: '2026-11-24T11:59:50Z', at, rangeKm: 0.5 }), 'y')).statusCode, 201)
  const body = holdBody(p1, { holdId: 'H', txId: 'old', txStartedAt: '2026-11-24T11:00:00Z', at, rangeKm: 0.5, maxWaitMs: 5000 })
  const late = p1.hold(body, 'K')
  await waitUntil(() => p1.fed.holds.waiting > 0, 5000, 'P1 to claim the key and wait')
  const taken = await p2.hold(body, 'K')
  t.equal(errorCode(taken), 'NO_STATION_AVAILABLE', 'P2 took the lapsed key, waited and stored its answer')
  t.equal((await p1.req('DELETE', '/federation/v1/holds/y1', { key: 'd' })).statusCode, 204)
  const a = await late
  // What the key holds when P1 finds its claim taken: P2's answer, or in progress while P2 still ran (docs/federation.md).
  t.ok(a.body === taken.body || errorCode(a) === 'IDEMPOTENCY_IN_PROGRESS', `P1 sends what the key holds: ${a.body}`)
  t.equal(await p1.store.reservations.getHold('H'), null, 'and booked nothing behind it')
  t.equal(await p1.store.trips.getPeerHold('H'), null)
  t.match(await p1.store.reservations.findBookings({ stationIds: ['IOS-1'], atMs: Date.parse(at), windowMs: 7_200_000, nowMs: p1.clock.now() }), [])
})

/**
 * Hold the first hold this rig's hold service is asked to place, before any write of it, until `open()`:
 * a keyed run under way in this process that has not claimed its key yet (as one queued behind others is).
 */
function holdFirstPlacement(r: { fed: Federation }): { open: () => void } {
  let open = (): void => undefined
  const gate = new Promise<void>((resolve) => (open = resolve))
  const holds = r.fed.holds
  const place = holds.placeForPeer.bind(holds)
  let first = true
  holds.placeForPeer = async (...args) => {
    if (first) {
      first = false
      await gate
    }
    return place(...args)
  }
  return { open }
}

t.test('[sqlite] a repeat sent while the first run has not written yet is told 409; the first one books', async (t) => {
  const r = await rig(t, 'sqlite')
  const gate = holdFirstPlacement(r)
  const body = holdBody(r, { holdId: 'h1', txId: 'tx-1' })
  const r1 = r.hold(body, 'K')
  await waitUntil(() => r.fed.idempotency.keyedRunning === 1, 5000, 'R1 to start')
  const r2 = await r.hold(body, 'K')
  t.equal(r2.statusCode, 409)
  t.equal(errorCode(r2), 'IDEMPOTENCY_IN_PROGRESS')
  const other = await r.hold(holdBody(r, { holdId: 'h1', txId: 'tx-1', rangeKm: 49 }), 'K')
  t.equal(errorCode(other), 'IDEMPOTENCY_IN_PROGRESS', 'another request with the key too: ask again')
  gate.open()
  const a1 = await r1
  t.equal(a1.statusCode, 201, 'the first request with the key books')
  t.equal((await r.hold(body, 'K')).body, a1.body)
  t.equal(errorCode(await r.hold(holdBody(r, { holdId: 'h1', txId: 'tx-1', rangeKm: 49 }), 'K')), 'IDEMPOTENCY_KEY_REUSED', 'and now the other request is told the key is taken')
})

t.test('[sqlite] a DELETE with the key of a hold still waiting for its first write on this process is told 409; the hold keeps its key and books', async (t) => {
  const r = await rig(t, 'sqlite')
  const gate = holdFirstPlacement(r)
  const r1 = r.hold(holdBody(r, { holdId: 'h1', txId: 'tx-1' }), 'K')
  await waitUntil(() => r.fed.idempotency.keyedRunning === 1, 5000, 'R1 to start')
  // The peer (wrongly) reuses K for a release of another hold while R1 still runs here.
  const del = await r.req('DELETE', '/federation/v1/holds/other', { key: 'K' })
  t.equal(del.statusCode, 409)
  t.equal(errorCode(del), 'IDEMPOTENCY_IN_PROGRESS')
  gate.open()
  const a1 = await r1
  t.equal(a1.statusCode, 201, 'the first request with the key books')
  t.equal(await r.store.trips.getPeerHold('other'), null, 'and the DELETE left no tombstone')
})

t.test("[sqlite] holds of one peer's vehicle through two processes on one file stop exactly at its limit", async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const clock = new TestClock('2026-11-24T12:00:00Z')
  const ps = [await rig(t, 'sqlite', { tmp, clock, maxReservationsPerVehicle: 3 }), await rig(t, 'sqlite', { tmp, clock, maxReservationsPerVehicle: 3 })]
  // Feira's V1 (counted apart from Salvador's) has one live hold here already.
  t.equal((await (ps[0] as Rig).hold(holdBody(ps[0] as Rig, { holdId: 'f1', txId: 'tx-f', at: (ps[0] as Rig).at(180 + 120 * 30) }), 'f', FEIRA)).statusCode, 201)
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) => {
      const p = ps[i % 2] as Rig
      return p.hold(holdBody(p, { holdId: `h${i}`, txId: `tx-${i}`, at: p.at(180 + 120 * i) }), `k${i}`)
    }),
  )
  const codes = answers.map((a) => (a.statusCode === 201 ? 'ok' : errorCode(a)))
  t.equal(codes.filter((c) => c === 'ok').length, 3, 'the limit, whichever process booked')
  t.equal(codes.filter((c) => c === 'RESERVATION_LIMIT').length, 17)
  const p0 = ps[0] as Rig
  t.match(answers.find((a) => a.statusCode !== 201)?.json(), { error: { details: { limit: 3, live: 3 } } })
  const counts = await p0.store.reservations.counts(clock.now())
  t.equal(counts.activeHolds, 4, "three of Salvador's V1 and Feira's one")
})

t.test('[sqlite] two processes confirm one hold with one key at once: one reservation, every answer one the key replays', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const clock = new TestClock('2026-11-24T12:00:00Z')
  const p1 = await rig(t, 'sqlite', { tmp, clock })
  const p2 = await rig(t, 'sqlite', { tmp, clock })
  t.equal((await p1.hold(holdBody(p1, { holdId: 'h1' }), 'k1')).statusCode, 201)
  t.equal((await p1.hold(holdBody(p1, { holdId: 'h2', txId: 'tx-2' }), 'k2')).statusCode, 201)
  // h1 live, then h2 past its TTL (re-booked by the confirm).
  for (const id of ['h1', 'h2']) {
    if (id === 'h2') clock.advanceSeconds(31)
    const both = await Promise.all([p1, p2].map((p) => p.req('POST', `/federation/v1/holds/${id}/confirm`, { key: `C-${id}` })))
    const again = await p1.req('POST', `/federation/v1/holds/${id}/confirm`, { key: `C-${id}` })
    t.equal(again.statusCode, 200)
    for (const x of both) t.ok(x.body === again.body || errorCode(x) === 'IDEMPOTENCY_IN_PROGRESS', `${id}: ${x.statusCode} ${x.body}`)
  }
  t.same((await p1.store.reservations.listVehicleReservations('V1', 0)).map((x) => x.reservationId).sort(), [reservationIdForHold('h1'), reservationIdForHold('h2')])
})

t.test('DELETE of a reservation: 204 for the peer whose trip made it, also when gone; NOT_FOUND for others', async (t) => {
  const r = await rig(t)
  await r.hold(holdBody(r, { holdId: 'h1' }), 'k1')
  const rid = (HoldConfirmation.parse((await r.req('POST', '/federation/v1/holds/h1/confirm', { key: 'c' })).json())).reservationId
  const stranger = await r.req('DELETE', `/federation/v1/reservations/${rid}`, { key: 'x', auth: FEIRA })
  t.equal(stranger.statusCode, 404)
  const local = await r.store.reservations.createReservation({
    reservationId: 'local-1', vehicleId: 'V9', atMs: r.clock.now() + 600 * 60_000, windowMs: 7_200_000, nowMs: r.clock.now(), candidates: [{ stationId: 'IOS-2', position: HERE }],
  })
  t.ok(local.ok)
  t.equal((await r.req('DELETE', '/federation/v1/reservations/local-1', { key: 'l' })).statusCode, 404, "a hub's own reservation is not a peer's")
  t.equal((await r.req('DELETE', `/federation/v1/reservations/${rid}`, { key: 'y' })).statusCode, 204)
  t.equal((await r.req('DELETE', `/federation/v1/reservations/${rid}`, { key: 'z' })).statusCode, 204)
  t.equal(await r.store.reservations.getReservation(rid), null)
  t.equal(errorCode(await r.req('POST', '/federation/v1/holds/h1/confirm', { key: 'c-again' })), 'HOLD_EXPIRED', 'a cancelled reservation is not re-booked by a late confirm')
})

// On SQLite the key's claim and answer go in the hold's own write (IdempotencyGuard.runKeyed): the same rules.
for (const storage of ['memory', 'sqlite'] as const) {
t.test(`[${storage}] Idempotency-Key: missing 400, replay returns the first answer and changes nothing, other body 422, scoped per peer`, async (t) => {
  const r = await rig(t, storage)
  const missing = await r.req('POST', '/federation/v1/holds', { body: holdBody(r) })
  t.equal(missing.statusCode, 400)
  t.equal(errorCode(missing), 'IDEMPOTENCY_KEY_MISSING')
  for (const [m, u] of [['DELETE', '/federation/v1/holds/x'], ['POST', '/federation/v1/holds/x/confirm'], ['DELETE', '/federation/v1/reservations/x']] as const) {
    t.equal(errorCode(await r.req(m, u)), 'IDEMPOTENCY_KEY_MISSING', `${m} ${u}`)
  }
  const first = await r.hold(holdBody(r), 'same')
  t.equal(first.statusCode, 201)
  const holdId = Hold.parse(first.json()).holdId
  t.equal(holdId, holdIdFromKey('salvador', 'same'), 'without a holdId in the body, the id derives from the peer and key')
  const replay = await r.hold(holdBody(r), 'same')
  t.equal(replay.statusCode, 201)
  t.equal(replay.body, first.body, 'the same bytes')
  t.equal(replay.headers[REPLAY_HEADER], 'true')
  t.equal((await r.store.reservations.counts(r.clock.now())).activeHolds, 1, 'nothing changed')
  const reordered = await r.hold(Object.fromEntries(Object.entries(holdBody(r)).reverse()), 'same')
  t.equal(reordered.statusCode, 201, 'key order in the body does not matter')
  const reused = await r.hold(holdBody(r, { rangeKm: 49 }), 'same')
  t.equal(reused.statusCode, 422)
  t.equal(errorCode(reused), 'IDEMPOTENCY_KEY_REUSED')
  const otherPeer = await r.hold(holdBody(r), 'same', FEIRA)
  t.equal(otherPeer.statusCode, 201, 'another peer may use the same key')
  t.equal((await r.store.reservations.counts(r.clock.now())).activeHolds, 2)
  const soon = holdBody(r, { at: r.at(10), holdId: 'soon' })
  t.equal(errorCode(await r.hold(soon, 'soon')), 'TOO_SOON')
  r.clock.advanceMinutes(-200)
  t.equal(errorCode(await r.hold(soon, 'soon')), 'TOO_SOON', 'an error answer is replayed too, though it would now succeed')
  t.equal((await r.hold(soon, 'soon-2')).statusCode, 201, 'under a new key it runs again')
})

t.test(`[${storage}] the same key while the first request still runs: 409 IDEMPOTENCY_IN_PROGRESS`, async (t) => {
  const r = await rig(t, storage)
  const { body, waiting } = await holdWaitingBehindYounger(r)
  const dup = await r.hold(body, 'slow')
  t.equal(dup.statusCode, 409)
  t.equal(errorCode(dup), 'IDEMPOTENCY_IN_PROGRESS')
  await r.req('DELETE', '/federation/v1/holds/y1', { key: 'd' })
  t.equal((await waiting).statusCode, 201)
  t.equal((await r.hold(body, 'slow')).statusCode, 201, 'then the first answer')
})

t.test(`[${storage}] another key for a hold id still being placed: 409 IDEMPOTENCY_IN_PROGRESS at once, whatever its body; then the hold`, async (t) => {
  const r = await rig(t, storage)
  const { body, waiting } = await holdWaitingBehindYounger(r)
  for (const [other, key] of [[body, 'slow-2'], [holdBody(r, { holdId: 'old', txId: 'other', rangeKm: 49 }), 'slow-3']] as const) {
    const dup = await r.hold(other, key)
    t.equal(dup.statusCode, 409)
    t.match(dup.json(), { error: { code: 'IDEMPOTENCY_IN_PROGRESS', details: { holdId: 'old' } } })
  }
  t.equal(r.fed.holds.waiting, 1, 'the second request did not wait beside the first')
  await r.req('DELETE', '/federation/v1/holds/y1', { key: 'd' })
  const first = await waiting
  t.equal(first.statusCode, 201)
  const again = await r.hold(body, 'slow-2')
  t.equal(again.statusCode, 201, 'once it is answered, another key gets the same hold')
  t.equal(Hold.parse(again.json()).stationId, Hold.parse(first.json()).stationId)
  t.equal((await r.store.reservations.counts(r.clock.now())).activeHolds, 2, 'y2 and old: nothing booked twice')
})
}

t.test('tokens: none or a wrong one is 401 on every federation route', async (t) => {
  const r = await rig(t)
  for (const [m, u] of [['GET', '/federation/v1/hub'], ['GET', '/federation/v1/stations?lat=0&lon=0&rangeKm=1'], ['POST', '/federation/v1/holds'], ['DELETE', '/federation/v1/holds/x'], ['GET', '/federation/v1/vehicles/V1/receipts']] as const) {
    const none = await r.req(m, u, { auth: null, key: 'k' })
    t.equal(none.statusCode, 401, `${m} ${u} without a token`)
    t.equal(errorCode(none), 'UNAUTHORIZED')
    t.equal((await r.req(m, u, { auth: 'Bearer ilheus-to-salvador', key: 'k' })).statusCode, 401, `${m} ${u} with our own outgoing token`)
  }
  t.equal((await r.store.reservations.counts(r.clock.now())).activeHolds, 0)
})

t.test('GET hub, stations and receipts answer the protocol shapes', async (t) => {
  const r = await rig(t)
  t.same(FedHubInfo.parse((await r.req('GET', '/federation/v1/hub')).json()), { hubId: 'ilheus', name: 'Ilhéus Charging', city: 'Ilhéus', position: { lat: -14.7936, lon: -39.0463 }, stations: 2 })
  await r.hold(holdBody(r), 'k')
  const near = FedStations.parse((await r.req('GET', `/federation/v1/stations?lat=${HERE.lat}&lon=${HERE.lon}&rangeKm=10&at=${r.at(180)}`)).json())
  t.same(near.stations.map((s) => [s.stationId, s.free]), [['IOS-1', false], ['IOS-2', true]])
  t.same(FedReceipts.parse((await r.req('GET', '/federation/v1/vehicles/V1/receipts')).json()), { receipts: [receipt] })
  t.same((await r.req('GET', '/federation/v1/vehicles/V2/receipts')).json(), { receipts: [] })
})

t.test('GET stations: a missing query parameter is "required", worded as over MQTT; an empty one is not read as 0', async (t) => {
  const r = await rig(t)
  const message = (res: LightMyRequestResponse): string => FedErrorBody.parse(res.json()).error.message
  const missing = await r.req('GET', '/federation/v1/stations?lat=0&lon=0')
  t.equal(missing.statusCode, 400)
  t.equal(message(missing), 'invalid query: rangeKm: required, expected a number')
  const overMqtt = OPS['station.nearest'].args.safeParse({ position: { lat: 0, lon: 0 } }, { reportInput: true })
  t.same(overMqtt.success ? [] : issuesOf(overMqtt.error).map((i) => `${i.path}: ${i.message}`), ['rangeKm: required, expected a number'], 'the same words over MQTT')
  t.equal(message(await r.req('GET', '/federation/v1/stations?lon=0&rangeKm=1')), 'invalid query: lat: required, expected a number')
  const bad: Array<[string, string]> = [
    ['lat=&lon=0&rangeKm=1', 'invalid query: lat: expected a number'],
    ['lat=0&lon=0&rangeKm=abc', 'invalid query: rangeKm: expected a number'],
    ['lat=0&lon=0&rangeKm=1&limit=', 'invalid query: limit: expected a number'],
    ['lat=0&lon=0&rangeKm=1&rangeKm=2', 'invalid query: rangeKm: expected a number'],
    ['lat=0&lon=0&rangeKm=-1', 'invalid query: rangeKm: must be > 0'],
  ]
  for (const [query, says] of bad) {
    const res = await r.req('GET', `/federation/v1/stations?${query}`)
    t.equal(res.statusCode, 400, query)
    t.equal(message(res), says, query)
  }
  t.equal(FedStations.parse((await r.req('GET', '/federation/v1/stations?lat=-14.79&lon=-39.04&rangeKm=50')).json()).stations.length, 2, 'limit defaults to 5')
})

t.test('bad input is a coded 400 that names the field, and changes nothing', async (t) => {
  const r = await rig(t)
  const bad = await r.hold(holdBody(r, { rangeKm: -1 }), 'k')
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { error: { code: 'BAD_REQUEST', message: /rangeKm/ } })
  t.equal(errorCode(await r.req('GET', '/federation/v1/stations?lat=999&lon=0&rangeKm=1')), 'BAD_REQUEST')
  t.equal(errorCode(await r.req('DELETE', '/federation/v1/holds/bad%20id', { key: 'k' })), 'BAD_REQUEST')
  // A string payload goes as text/plain: not JSON, so 415.
  t.equal(errorCode(await r.req('POST', '/federation/v1/holds', { key: 'k2', body: 'not json' })), 'UNSUPPORTED_MEDIA_TYPE')
  const far = await r.hold(holdBody(r, { from: { lat: 0, lon: 0 } }), 'k3')
  t.equal(far.statusCode, 422)
  t.equal(errorCode(far), 'OUT_OF_RANGE')
  t.equal((await r.store.reservations.counts(r.clock.now())).activeHolds, 0)
})

for (const storage of ['memory', 'sqlite'] as const) {
  t.test(`[${storage}] a confirm of an expired hold does not take its vehicle over the limit: 409 RESERVATION_LIMIT, nothing booked`, async (t) => {
    const r = await rig(t, storage, { maxReservationsPerVehicle: 1 })
    t.equal((await r.hold(holdBody(r, { holdId: 'h1' }), 'k1')).statusCode, 201)
    r.clock.advanceSeconds(31)
    t.equal((await r.hold(holdBody(r, { holdId: 'h2', txId: 'tx-2', at: r.at(400) }), 'k2')).statusCode, 201, 'h1 expired: it no longer counts')
    const c = await r.req('POST', '/federation/v1/holds/h1/confirm', { key: 'c1' })
    t.equal(c.statusCode, 409)
    t.match(c.json(), { error: { code: 'RESERVATION_LIMIT', details: { live: 1, limit: 1 } } })
    t.equal(await r.store.reservations.getReservation(reservationIdForHold('h1')), null)
    t.match(await r.store.trips.getPeerHold('h1'), { state: 'placed' }, 'the ledger entry is not confirmed')
    t.equal((await r.req('POST', '/federation/v1/holds/h1/confirm', { key: 'c1' })).body, c.body, 'the key replays the refusal')
    // Once h2 is released, the expired hold's slot is booked again.
    t.equal((await r.req('DELETE', '/federation/v1/holds/h2', { key: 'd2' })).statusCode, 204)
    const again = await r.req('POST', '/federation/v1/holds/h1/confirm', { key: 'c2' })
    t.equal(again.statusCode, 200, again.body)
    t.equal(HoldConfirmation.parse(again.json()).reservationId, reservationIdForHold('h1'))
  })

  t.test(`[${storage}] a placed hold sent again under a new key once its time is too near is answered with the hold (201), as is a released one (410)`, async (t) => {
    const r = await rig(t, storage)
    const body = holdBody(r, { holdId: 'h1', at: r.at(125) })
    const first = await r.hold(body, 'k1')
    t.equal(first.statusCode, 201)
    t.equal((await r.hold(holdBody(r, { holdId: 'h2', txId: 'tx-2', at: r.at(125) }), 'k3')).statusCode, 201)
    t.equal((await r.req('DELETE', '/federation/v1/holds/h2', { key: 'd2' })).statusCode, 204)
    r.clock.advanceMinutes(10)
    const again = await r.hold(body, 'k2')
    t.equal(again.statusCode, 201, again.body)
    t.same(again.json(), first.json())
    const released = await r.hold(holdBody(r, { holdId: 'h2', txId: 'tx-2', at: r.at(115) }), 'k4')
    t.equal(released.statusCode, 410, released.body)
    t.equal(errorCode(await r.hold(holdBody(r, { holdId: 'h3', txId: 'tx-3', at: r.at(115) }), 'k5')), 'TOO_SOON', 'a new id is still held to the rules')
  })
}
