/**
 * The SQLite store counts a peer's vehicle's live holds (the per-vehicle
 * limit of `POST /federation/v1/holds`) from an in-memory index of the
 * peer-hold ledger (hub/store/sqlite/trips.ts). fast-check mixes peers'
 * holds (with and without the limit, alone and several in one group commit),
 * ledger entries recorded, confirmed, cancelled and released (by their peer,
 * by another, and before they were placed), housekeeping sweeps, and a clock
 * that lets holds expire and reservations pass, made through that store and
 * through a second handle on the same file (another writer the index never
 * hears from). After every step the index's count must equal the database's
 * own (the second handle counts by SQL, no index) for every peer and
 * vehicle, and no hold placed under the limit may leave its (peer, vehicle)
 * over it.
 */
import { rmSync } from 'node:fs'
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { TestClock } from '../hub/clock.js'
import { KeyedCall, SqliteStore, type KeyedAnswer } from '../hub/store/index.js'
import { tempDir } from './helpers/hub.js'

const RUNS = Number(process.env.VOLTWAY_PROPERTY_RUNS ?? 60)
/** A fixed seed keeps CI deterministic; `VOLTWAY_PROPERTY_SEED=random` (or a number) explores further. */
const SEED = process.env.VOLTWAY_PROPERTY_SEED === 'random' ? undefined : Number(process.env.VOLTWAY_PROPERTY_SEED ?? 20261203)
const MIN = 60_000
const WINDOW = 120 * MIN
const LIMIT = 3
const PEERS = ['salvador', 'ilheus']
const VEHICLES = ['V0', 'V1', 'V2']
const STATIONS = ['S0', 'S1', 'S2', 'S3']
const position = { lat: -12.97, lon: -38.5 }

type Writer = 'indexed' | 'other'
type Step =
  | { op: 'place'; by: Writer; peer: number; vehicle: number; slot: number; ttlMin: number; limited: boolean }
  | { op: 'burst'; peer: number; vehicle: number; slot: number; count: number }
  | { op: 'record'; by: Writer; peer: number; vehicle: number; slot: number; ttlMin: number }
  | { op: 'confirm'; by: Writer; pick: number; wrongPeer: boolean }
  | { op: 'confirmEntry'; by: Writer; pick: number }
  | { op: 'cancelled'; by: Writer; pick: number }
  | { op: 'release'; by: Writer; pick: number; wrongPeer: boolean; unknown: boolean }
  | { op: 'sweep'; by: Writer; minutesAgo: number }
  | { op: 'advance'; minutes: number }

const writer = fc.constantFrom<Writer>('indexed', 'indexed', 'other')
const peer = fc.nat({ max: PEERS.length - 1 })
const vehicle = fc.nat({ max: VEHICLES.length - 1 })
/** Booking times: 30 min slots from 2 h before the start to 10 h after. */
const slot = fc.integer({ min: -4, max: 20 })
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('place' as const), by: writer, peer, vehicle, slot, ttlMin: fc.integer({ min: 1, max: 90 }), limited: fc.boolean() }) },
  // Holds asked for in one turn share one group commit: each counts the ones before it.
  { weight: 2, arbitrary: fc.record({ op: fc.constant('burst' as const), peer, vehicle, slot, count: fc.integer({ min: 2, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('record' as const), by: writer, peer, vehicle, slot, ttlMin: fc.integer({ min: 1, max: 90 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('confirm' as const), by: writer, pick: fc.nat(), wrongPeer: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('confirmEntry' as const), by: writer, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cancelled' as const), by: writer, pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('release' as const), by: writer, pick: fc.nat(), wrongPeer: fc.boolean(), unknown: fc.boolean() }) },
  // Sweeps that reach entries still live as well as long dead ones (the hub sweeps days back; the store takes any cutoff).
  { weight: 2, arbitrary: fc.record({ op: fc.constant('sweep' as const), by: writer, minutesAgo: fc.oneof(fc.integer({ min: 0, max: 150 }), fc.integer({ min: 150, max: 1800 })) }) },
  // Minutes to let holds expire and reservations pass; now and then a day and more, past the index's horizon.
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), minutes: fc.oneof(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1400, max: 3100 })) }) },
)

t.test("the peer-hold ledger's index counts a peer's vehicle's live holds as the database does, under random writes from this store and another handle on the file", async (t) => {
  let checks = 0
  let placed = 0
  let refusedAtLimit = 0
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), async (steps) => {
      const dir = tempDir()
      const clock = new TestClock('2026-11-24T12:00:00Z')
      const start = clock.now()
      const indexed = new SqliteStore({ dataDir: dir })
      const other = new SqliteStore({ dataDir: dir, bookingIndex: false })
      const handle = (w: Writer): SqliteStore => (w === 'indexed' ? indexed : other)
      /** Every hold id used, with the peer that placed it. */
      const holds: Array<{ holdId: string; peerHubId: string }> = []
      let n = 0
      const atOf = (s: number): number => start + s * 30 * MIN
      const pick = (i: number): { holdId: string; peerHubId: string } | undefined => holds[i % Math.max(1, holds.length)]
      const count = (store: SqliteStore, peerHubId: string, vehicleId: string): Promise<number> => {
        const now = clock.now()
        return store.trips.countPeerVehicleHolds({ peerHubId, vehicleId, fromMs: now - WINDOW, nowMs: now })
      }
      const place = (store: SqliteStore, p: number, v: number, s: number, ttlMin: number, limited: boolean) => {
        const nowMs = clock.now()
        const holdId = `h${++n}`
        const peerHubId = PEERS[p] as string
        holds.push({ holdId, peerHubId })
        return store.peerHolds.placePeerHold(
          {
            holdId,
            vehicleId: VEHICLES[v] as string,
            atMs: atOf(s),
            candidates: STATIONS.map((stationId) => ({ stationId, position })),
            windowMs: WINDOW,
            nowMs,
            expiresAtMs: nowMs + ttlMin * MIN,
            txId: `tx${n}`,
            txStartedAtMs: nowMs,
            ...(limited ? { limit: { max: LIMIT, fromMs: nowMs - WINDOW } } : {}),
          },
          peerHubId,
        )
      }
      /** Holds placed under the limit: only as many as the (peer, vehicle) had room for before, by the database's own count. */
      const withinLimit = (before: number, made: number, p: number, v: number, what: string): void => {
        if (made > Math.max(0, LIMIT - before)) throw new Error(`${what}: ${made} placed for ${PEERS[p]}/${VEHICLES[v]}, which had ${before} live holds of a limit of ${LIMIT}`)
      }
      try {
        for (const s of steps) {
          const nowMs = clock.now()
          switch (s.op) {
            case 'place': {
              const before = await count(other, PEERS[s.peer] as string, VEHICLES[s.vehicle] as string)
              const o = await place(handle(s.by), s.peer, s.vehicle, s.slot, s.ttlMin, s.limited)
              if (o.ok) placed++
              if (!o.ok && 'overLimit' in o && o.overLimit !== undefined) refusedAtLimit++
              if (s.limited) withinLimit(before, o.ok ? 1 : 0, s.peer, s.vehicle, `a hold placed by ${s.by}`)
              break
            }
            case 'burst': {
              // Each at its own station's slot (a slot apart), so the limit, not the stations, decides.
              const before = await count(other, PEERS[s.peer] as string, VEHICLES[s.vehicle] as string)
              const outs = await Promise.all(Array.from({ length: s.count }, (_, i) => place(indexed, s.peer, s.vehicle, s.slot + 4 * i, 60, true)))
              placed += outs.filter((o) => o.ok).length
              refusedAtLimit += outs.filter((o) => !o.ok && 'overLimit' in o && o.overLimit !== undefined).length
              withinLimit(before, outs.filter((o) => o.ok).length, s.peer, s.vehicle, `${s.count} holds in one group commit`)
              break
            }
            case 'record': {
              const holdId = `h${++n}`
              const peerHubId = PEERS[s.peer] as string
              holds.push({ holdId, peerHubId })
              await handle(s.by).trips.recordPeerHold({ holdId, peerHubId, txId: `tx${n}`, vehicleId: VEHICLES[s.vehicle] as string, stationId: 'S0', position, atMs: atOf(s.slot), expiresAtMs: nowMs + s.ttlMin * MIN, nowMs })
              break
            }
            case 'confirm': {
              const h = pick(s.pick)
              if (!h) break
              const peerHubId = s.wrongPeer ? (PEERS.find((p) => p !== h.peerHubId) as string) : h.peerHubId
              await handle(s.by).peerHolds.confirmPeerHold({ holdId: h.holdId, reservationId: `r-${h.holdId}`, nowMs }, peerHubId)
              break
            }
            case 'confirmEntry': {
              const h = pick(s.pick)
              if (h) await handle(s.by).trips.peerHoldConfirmed({ holdId: h.holdId, reservationId: `r-${h.holdId}`, nowMs })
              break
            }
            case 'cancelled': {
              const h = pick(s.pick)
              if (h) await handle(s.by).trips.peerHoldCancelled({ holdId: h.holdId, nowMs })
              break
            }
            case 'release': {
              const h = s.unknown ? { holdId: `h${++n}`, peerHubId: PEERS[0] as string } : pick(s.pick)
              if (!h) break
              if (s.unknown) holds.push(h)
              const peerHubId = s.wrongPeer ? (PEERS.find((p) => p !== h.peerHubId) as string) : h.peerHubId
              await handle(s.by).trips.releasePeerHold({ holdId: h.holdId, peerHubId, nowMs })
              break
            }
            case 'sweep':
              await handle(s.by).trips.deletePeerHoldsOlderThan(nowMs - s.minutesAgo * MIN)
              break
            case 'advance':
              clock.advanceMinutes(s.minutes)
              break
          }
          for (const peerHubId of PEERS) {
            for (const vehicleId of VEHICLES) {
              const [got, want] = await Promise.all([count(indexed, peerHubId, vehicleId), count(other, peerHubId, vehicleId)])
              checks++
              if (got !== want) throw new Error(`after ${s.op} by ${'by' in s ? s.by : '-'} at now=${clock.now()}: ${peerHubId}/${vehicleId} has ${got} live holds by the index, ${want} by the store`)
            }
          }
        }
      } finally {
        await indexed.close()
        await other.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }),
    { numRuns: RUNS, includeErrorInReport: true, ...(SEED !== undefined ? { seed: SEED } : {}) },
  )
  t.ok(checks > RUNS * 30, `${checks} counts compared`)
  // The runs must reach what they claim to check: holds placed, and some refused at the limit.
  t.ok(placed > RUNS, `${placed} holds placed`)
  t.ok(refusedAtLimit > 0, `${refusedAtLimit} holds refused at the limit`)
})

/** V0's hold at S0 at `atMs`, placed at `nowMs` for 30 minutes, under a limit of two. */
function limitedHold(holdId: string, atMs: number, nowMs: number) {
  return {
    holdId,
    vehicleId: 'V0',
    atMs,
    candidates: [{ stationId: 'S0', position }],
    windowMs: WINDOW,
    nowMs,
    expiresAtMs: nowMs + 30 * MIN,
    txId: `tx-${holdId}`,
    txStartedAtMs: nowMs,
    limit: { max: 2, fromMs: nowMs - WINDOW },
  }
}

t.test("a hold one handle places is counted by the other's next hold, not served from its index", async (t) => {
  const dir = tempDir()
  const clock = new TestClock('2026-11-24T12:00:00Z')
  const indexed = new SqliteStore({ dataDir: dir })
  const other = new SqliteStore({ dataDir: dir })
  t.teardown(async () => {
    await indexed.close()
    await other.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const nowMs = clock.now()
  const hold = (holdId: string, atMs: number) => limitedHold(holdId, atMs, nowMs)
  // The index loads salvador/V0 with one hold, then the other handle (its own index) adds the second.
  t.match(await indexed.peerHolds.placePeerHold(hold('h1', nowMs + 60 * MIN), 'salvador'), { ok: true })
  t.equal(await indexed.trips.countPeerVehicleHolds({ peerHubId: 'salvador', vehicleId: 'V0', fromMs: nowMs - WINDOW, nowMs }), 1)
  t.match(await other.peerHolds.placePeerHold(hold('h2', nowMs + 300 * MIN), 'salvador'), { ok: true })
  // At the limit now: the first handle must see the second's hold, not its index's stale count of one.
  t.match(await indexed.peerHolds.placePeerHold(hold('h3', nowMs + 600 * MIN), 'salvador'), { ok: false, overLimit: 2 })
  t.equal(await indexed.trips.countPeerVehicleHolds({ peerHubId: 'salvador', vehicleId: 'V0', fromMs: nowMs - WINDOW, nowMs }), 2)
})

/** A store on a fresh file, closed at the end of `t`, and an answer that cannot be made (its write fails after its ledger entry). */
function oneStore(t: Test): { store: SqliteStore; nowMs: number; failing: <R>(key: string) => KeyedAnswer<R> } {
  const dir = tempDir()
  const store = new SqliteStore({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const nowMs = new TestClock('2026-11-24T12:00:00Z').now()
  const failing = <R>(key: string): KeyedAnswer<R> => ({
    call: new KeyedCall({ scope: 'salvador', key, fingerprint: 'f', nowMs, leaseMs: 30_000, owner: `run-${key}` }),
    status: 201,
    body: (): string => {
      throw new Error('no answer')
    },
  })
  return { store, nowMs, failing }
}

t.test("a peer's hold whose write rolls back after its ledger entry leaves the index counting as the database does", async (t) => {
  const { store, nowMs, failing } = oneStore(t)
  const q = { peerHubId: 'salvador', vehicleId: 'V0', fromMs: nowMs - WINDOW, nowMs }
  const hold = (holdId: string, atMs: number) => limitedHold(holdId, atMs, nowMs)
  t.match(await store.peerHolds.placePeerHold(hold('h1', nowMs + 60 * MIN), 'salvador'), { ok: true })
  t.equal(await store.trips.countPeerVehicleHolds(q), 1, 'the index is loaded with the first hold')
  // The answer cannot be made: the write fails after the hold and its ledger entry, and rolls back whole.
  await t.rejects(store.peerHolds.placePeerHold(hold('h2', nowMs + 300 * MIN), 'salvador', failing('k-2')), /no answer/)
  t.equal(await store.trips.getPeerHold('h2'), null, 'the ledger entry rolled back')
  t.equal(await store.trips.countPeerVehicleHolds(q), 1, 'and the index does not count it')
  // Room for one more, which the limit then refuses after it.
  t.match(await store.peerHolds.placePeerHold(hold('h3', nowMs + 600 * MIN), 'salvador'), { ok: true })
  t.match(await store.peerHolds.placePeerHold(hold('h4', nowMs + 900 * MIN), 'salvador'), { ok: false, overLimit: 2 })
})

t.test("a peer's hold rolled back in a group commit is not counted by the next hold of that same commit", async (t) => {
  const { store, nowMs, failing } = oneStore(t)
  const q = { peerHubId: 'salvador', vehicleId: 'V0', fromMs: nowMs - WINDOW, nowMs }
  t.match(await store.peerHolds.placePeerHold(limitedHold('h1', nowMs + 60 * MIN, nowMs), 'salvador'), { ok: true })
  t.equal(await store.trips.countPeerVehicleHolds(q), 1, 'the index is loaded')
  // Asked for in one turn: one group commit, h2's savepoint rolled back before h3 counts.
  const h2 = store.peerHolds.placePeerHold(limitedHold('h2', nowMs + 300 * MIN, nowMs), 'salvador', failing('k-2'))
  const h3 = store.peerHolds.placePeerHold(limitedHold('h3', nowMs + 600 * MIN, nowMs), 'salvador')
  await t.rejects(h2, /no answer/)
  t.match(await h3, { ok: true }, 'one live hold before it, of a limit of two')
  t.equal(await store.trips.countPeerVehicleHolds(q), 2)
})

t.test("a peer's confirm rolled back in a group commit leaves its hold counted by the next hold of that same commit", async (t) => {
  const { store, nowMs, failing } = oneStore(t)
  const q = { peerHubId: 'salvador', vehicleId: 'V0', fromMs: nowMs - WINDOW, nowMs }
  // h1: a live hold whose slot is past: confirmed, its entry would count no more (its reservation has passed).
  t.match(await store.peerHolds.placePeerHold({ ...limitedHold('h1', nowMs - 3 * WINDOW, nowMs), candidates: [{ stationId: 'S1', position }] }, 'salvador'), { ok: true })
  t.match(await store.peerHolds.placePeerHold(limitedHold('h2', nowMs + 60 * MIN, nowMs), 'salvador'), { ok: true })
  t.equal(await store.trips.countPeerVehicleHolds(q), 2)
  const confirm = store.peerHolds.confirmPeerHold({ holdId: 'h1', reservationId: 'r1', nowMs }, 'salvador', failing('k-c'))
  const h3 = store.peerHolds.placePeerHold(limitedHold('h3', nowMs + 600 * MIN, nowMs), 'salvador')
  await t.rejects(confirm, /no answer/)
  t.match(await store.trips.getPeerHold('h1'), { state: 'placed' }, 'the confirm rolled back')
  t.match(await h3, { ok: false, overLimit: 2 }, 'h1 and h2 still live: refused at the limit')
  t.equal(await store.trips.countPeerVehicleHolds(q), 2)
})
