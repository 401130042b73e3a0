/**
 * reservation.create's request id in its booking's own write (SQLite,
 * Store.keyedReservations; hub/requests/idempotent.ts runKeyed): one commit
 * where claim, booking and answer took three, with every rule of "Repeated
 * requests" (docs/protocol.md) as the claim-first path keeps them. The
 * handlers are wired as startHub wires them on SQLite (keyedOps).
 */
import t from 'tap'
import type { Test } from 'tap'
import { pino } from 'pino'
import { idempotentOps } from '../hub/requests/idempotent.js'
import { coreOpHandlers, createHubContext } from '../hub/ops/index.js'
import { SqliteStore } from '../hub/store/index.js'
import { WriteBatcher } from '../hub/store/sqlite/write-batcher.js'
import { TestClock } from '../hub/clock.js'
import { OPS, VoltwayError, type HandlerTable, type OpHandler, type OpResult } from '../protocol/index.js'
import { HERE, NOW, NOW_MS, testConfig } from './helpers/store-hub.js'
import { tempSqlite } from './helpers/store-sqlite.js'

type Create = (requestId: string, o?: { vehicleId?: string; stationId?: string | null; minutes?: number }) => Promise<OpResult<'reservation.create'>>

interface Replica {
  store: SqliteStore
  handlers: HandlerTable
  create: Create
}

/** 20 stations ~110 m apart due north of HERE (a nearest-free create past the first batch of 16). */
const MANY = Array.from({ length: 20 }, (_, i) => ({ stationId: `M${i}`, position: { lat: HERE.lat + 0.001 * (i + 1), lon: HERE.lon }, powerKw: 22, priceMinorPerKwh: 73, password: `p-m${i}` }))

/**
 * Replicas on one SQLite file, each with its own connection, context and request-id layer, at one
 * TestClock. A create's `at` is NOW + `minutes` (default 180), fixed whatever the clock does, so a
 * request sent again is the same request; `stationId` null asks for the nearest free station.
 */
function cluster(t: Test, o: { waitMs?: number; stations?: unknown[] } = {}) {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const clock = new TestClock(NOW)
  const replica = (r: { keyed?: boolean; table?: (table: HandlerTable) => HandlerTable; busyTimeoutMs?: number } = {}): Replica => {
    const store = tmp.open(r.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: r.busyTimeoutMs })
    const ctx = createHubContext({ config: testConfig(o.stations ? { stations: o.stations } : {}), store, clock })
    const table = (r.table ?? ((x) => x))(coreOpHandlers(ctx) as unknown as HandlerTable)
    const keyed = r.keyed ?? true
    const handlers = idempotentOps(table, { store: store.idempotency, clock, logger: pino({ enabled: false }), waitMs: o.waitMs ?? 0, ...(keyed ? { keyedOps: new Set(['reservation.create']) } : {}) })
    const create: Create = (requestId, c = {}) => {
      const at = new Date(NOW_MS + (c.minutes ?? 180) * 60_000).toISOString().replace('.000Z', 'Z')
      const stationId = c.stationId === undefined ? 'NEAR' : c.stationId
      const args = OPS['reservation.create'].args.parse({ at, position: HERE, rangeKm: 50, ...(stationId === null ? {} : { stationId }) })
      return (handlers['reservation.create'] as OpHandler<'reservation.create'>)(args, { hubId: 'feira', vehicleId: c.vehicleId ?? 'V1', requestId, op: 'reservation.create' })
    }
    return { store, handlers, create }
  }
  return { clock, replica }
}

/** A promise the test resolves. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined
  const wait = new Promise<void>((r) => (open = r))
  return { wait, open }
}

/** What a create ended with: its result or its error code. */
const settle = (p: Promise<unknown>): Promise<{ ok: true; v: unknown } | { ok: false; code: string | undefined }> =>
  p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, code: codeOf(e) }))

const commits = (store: SqliteStore): number => WriteBatcher.for(store.db).commits
const reservations = async (r: Replica, clock: TestClock): Promise<number> => (await r.store.reservations.counts(clock.now())).reservations
const codeOf = (e: unknown): string | undefined => (e instanceof VoltwayError ? e.code : undefined)

t.test('a create is one commit: the request id claimed, the booking and its answer in one write; its repeat answers that answer', async (t) => {
  const { clock, replica } = cluster(t)
  const a = replica()
  const before = commits(a.store)
  const first = await a.create('q1')
  t.equal(commits(a.store) - before, 1, 'one commit (claim, booking and answer took three before)')
  t.match(first, { reservation: { stationId: 'NEAR', vehicleId: 'V1' } })
  t.same(await a.create('q1'), first, 'the repeat is answered the stored answer')
  // Another replica reads the stored answer, byte for byte what the first run answered.
  t.same(await replica().create('q1'), first, 'another replica answers the same')
  t.equal(await reservations(a, clock), 1, 'one reservation')
  t.equal(codeOf(await a.create('q1', { stationId: 'MID' }).catch((e: unknown) => e)), 'IDEMPOTENCY_KEY_REUSED', 'the id with other args is refused')
  t.equal(await reservations(a, clock), 1, 'and books nothing')
})

t.test('refusals are kept answers: one the write saw (a conflict) and one found before any write (an unknown station)', async (t) => {
  const { clock, replica } = cluster(t)
  const a = replica()
  await a.create('q1')
  const conflict = await a.create('q2').catch((e: unknown) => e)
  t.equal(codeOf(conflict), 'RESERVATION_CONFLICT')
  t.same(await a.create('q2').catch((e: unknown) => e), conflict, 'answered again')
  const unknown = await a.create('q3', { stationId: 'NOPE' }).catch((e: unknown) => e)
  t.equal(codeOf(unknown), 'NOT_FOUND')
  t.same(await replica().create('q3', { stationId: 'NOPE' }).catch((e: unknown) => e), unknown, 'the id was claimed and answered though no write carried it')
  t.equal(codeOf(await a.create('q3').catch((e: unknown) => e)), 'IDEMPOTENCY_KEY_REUSED', 'and is that request\'s')
  t.equal(await reservations(a, clock), 1)
})

t.test('the same request twice at once in one process books once, and both get the one answer', async (t) => {
  // The repeat waits for the first run's answer (waitMs), as it would for a claim.
  const { clock, replica } = cluster(t, { waitMs: 5_000 })
  const a = replica()
  const [x, y] = await Promise.all([a.create('q1'), a.create('q1')])
  t.same(x, y)
  t.equal(await reservations(a, clock), 1)
})

t.test('one id sent at once in one process for two requests: one books, the other is IDEMPOTENCY_KEY_REUSED', async (t) => {
  // The second waits for the first run (waitMs), then the database answers it.
  const { clock, replica } = cluster(t, { waitMs: 5_000 })
  const a = replica()
  const out = await Promise.allSettled([a.create('q1', { stationId: 'NEAR' }), a.create('q1', { stationId: 'MID' })])
  t.equal(out.filter((o) => o.status === 'fulfilled').length, 1, 'one booked')
  const refused = out.find((o) => o.status === 'rejected')
  t.equal(codeOf(refused?.status === 'rejected' ? refused.reason : null), 'IDEMPOTENCY_KEY_REUSED')
  t.equal(await reservations(a, clock), 1)
})

t.test('the same request on two replicas at once books once; both answer the one answer', async (t) => {
  const { clock, replica } = cluster(t)
  const a = replica()
  const b = replica()
  for (let i = 0; i < 20; i++) {
    const id = `q${i}`
    const [x, y] = await Promise.all([a.create(id, { minutes: 180 + i * 180 }), b.create(id, { minutes: 180 + i * 180 })])
    t.same(x, y, `${id}: one answer`)
  }
  t.equal(await reservations(a, clock), 20, 'one booking per request')
})

t.test('an id another replica is running (claimed first, not keyed): the keyed run books nothing and is told IDEMPOTENCY_IN_PROGRESS, then gets that run\'s answer', async (t) => {
  let release: () => void = () => undefined
  const gate = new Promise<void>((r) => (release = r))
  let claimed: () => void = () => undefined
  const inHandler = new Promise<void>((r) => (claimed = r))
  const { clock, replica } = cluster(t)
  const slow = replica({
    keyed: false,
    table: (table) => ({
      ...table,
      // Called once the id's claim has committed (the claim-first path).
      'reservation.create': async (args: unknown, ctx: unknown) => {
        claimed()
        await gate
        return (table['reservation.create'] as (a: unknown, c: unknown) => Promise<unknown>)(args, ctx)
      },
    }) as HandlerTable,
  })
  const a = replica()
  const running = slow.create('q1')
  await inHandler
  const e = await a.create('q1').catch((x: unknown) => x)
  t.equal(codeOf(e), 'IDEMPOTENCY_IN_PROGRESS')
  t.equal(await reservations(a, clock), 0, 'nothing booked')
  release()
  const first = await running
  t.same(await a.create('q1'), first, 'then the other run\'s answer')
  t.equal(await reservations(a, clock), 1)
})

t.test('a write that fails after the claim rolls the claim back with it; the id stays this request\'s and its repeat runs afresh', async (t) => {
  const { clock, replica } = cluster(t)
  const a = replica()
  a.store.db.exec("CREATE TRIGGER fail_booking BEFORE INSERT ON reservations BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
  const e = await a.create('q1').catch((x: unknown) => x)
  t.notOk(e instanceof VoltwayError && e.code === 'IDEMPOTENCY_IN_PROGRESS', 'the failure itself is answered')
  t.equal(await reservations(a, clock), 0)
  t.equal(codeOf(await a.create('q1', { stationId: 'MID' }).catch((x: unknown) => x)), 'IDEMPOTENCY_KEY_REUSED', 'the id is kept for this request')
  a.store.db.exec('DROP TRIGGER fail_booking')
  t.match(await a.create('q1'), { reservation: { stationId: 'NEAR' } }, 'the same request runs afresh and books')
  t.equal(await reservations(a, clock), 1)
})

t.test('a request whose first run died after booking (its id\'s record gone) is answered that booking, not a second one', async (t) => {
  const { clock, replica } = cluster(t)
  const a = replica()
  const first = await a.create('q1')
  await a.store.idempotency.deleteOlderThan(clock.now() + 1)
  t.same(await a.create('q1'), first, 'the same reservation')
  t.same(await replica().create('q1'), first, 'its answer is stored again')
  t.equal(await reservations(a, clock), 1)
})

t.test('a run that found the id held and claimed it after (claim first) still books only while the claim is its own: one lapsed and taken meanwhile books nothing', async (t) => {
  const { clock, replica } = cluster(t, { waitMs: 1_000, stations: MANY })
  const minutes = 120 + 5 / 60 // 5 s past the minimum lead: a run 7 s later is TOO_SOON
  // The 16 nearest stations are booked at that time, so a nearest-free create writes twice: its first write claims the id.
  await fillFirstBatch(replica, minutes)
  const c = replica()
  const b = replica()
  const a = replica()
  const cKeyed = c.store.keyedReservations
  const cFirst = cKeyed.createReservation.bind(cKeyed)
  const cClaimed = gate()
  const cFails = gate()
  let cCalls = 0
  // C claims q1 in its first write, then its second write fails (a 5xx): the id is abandoned, still q1's.
  cKeyed.createReservation = async (input, keyed) => {
    if (++cCalls === 1) return cFirst(input, keyed).finally(cClaimed.open)
    await cFails.wait
    throw new Error('the disk went away')
  }
  // B's keyed try finds C's claim (KEY_HELD); it waits, claims q1 once C abandons it, and its booking write stalls.
  const bStall = stallSecondWrite(b)
  const cRun = settle(c.create('q1', { stationId: null, minutes }))
  await cClaimed.wait
  const bRun = settle(b.create('q1', { stationId: null, minutes }))
  await new Promise((r) => setTimeout(r, 100))
  cFails.open()
  await bStall.at.wait
  // B stalls a whole lease (6 s): A takes the lapsed claim and answers q1 TOO_SOON.
  clock.advance(7_000)
  const aOut = await settle(a.create('q1', { stationId: null, minutes }))
  t.same(aOut, { ok: false, code: 'TOO_SOON' })
  bStall.go.open()
  t.same(await bRun, aOut, 'B answers the id\'s one answer')
  await cRun
  const booked = (a.store.db.prepare("SELECT COUNT(*) AS n FROM reservations WHERE vehicle_id = 'V1'").get() as { n: number }).n
  t.equal(booked, 0, 'and booked nothing behind it')
})

t.test('in-process repeats of a keyed run that has not written yet are told to ask again (the database may hold the id for yet another run); once it has, the database answers', async (t) => {
  const { clock, replica } = cluster(t, { waitMs: 20 })
  const held = gate()
  let n = 0
  const a = replica({ table: gatedFirst(held, () => n++ === 0) })
  const first = settle(a.create('q1', { stationId: 'NEAR' }))
  await new Promise((r) => setTimeout(r, 10))
  t.same(await settle(a.create('q1', { stationId: 'MID' })), { ok: false, code: 'IDEMPOTENCY_IN_PROGRESS' }, 'another request with the id: ask again')
  t.same(await settle(a.create('q1', { stationId: 'NEAR' })), { ok: false, code: 'IDEMPOTENCY_IN_PROGRESS' }, 'the same request: ask again')
  held.open()
  t.match(await first, { ok: true, v: { reservation: { stationId: 'NEAR' } } }, 'the first run books')
  t.same(await settle(a.create('q1', { stationId: 'MID' })), { ok: false, code: 'IDEMPOTENCY_KEY_REUSED' }, 'then the id is the first request\'s')
  t.same(await settle(a.create('q1', { stationId: 'NEAR' })), await first, 'and the same request gets its answer')
  t.equal(await reservations(a, clock), 1)
})

/** A reservation.create that waits for `g` before running when `first()` says so. */
function gatedFirst(g: { wait: Promise<void> }, first: () => boolean) {
  return (table: HandlerTable): HandlerTable =>
    ({
      ...table,
      'reservation.create': async (...x: unknown[]) => {
        if (first()) await g.wait
        return (table['reservation.create'] as (...y: unknown[]) => Promise<unknown>)(...x)
      },
    }) as HandlerTable
}

/**
 * A claim-first replica whose reservation.create, once its id is claimed, waits for the test (`inHandler` opens
 * first, `go` lets it on), then runs (`then: 'run'`) or fails with a 5xx (`'fail'`: its claim abandoned, the id
 * still that request's).
 */
function heldClaimFirst(replica: ReturnType<typeof cluster>['replica'], then: 'run' | 'fail' = 'run') {
  const go = gate()
  const inHandler = gate()
  const r = replica({
    keyed: false,
    table: (table) =>
      ({
        ...table,
        'reservation.create': async (...x: unknown[]) => {
          inHandler.open()
          await go.wait
          if (then === 'fail') throw new VoltwayError('INTERNAL', 'the disk went away')
          return (table['reservation.create'] as (...y: unknown[]) => Promise<unknown>)(...x)
        },
      }) as HandlerTable,
  })
  return { r, go, inHandler }
}

for (const keyed of [false, true]) {
  t.test(`[keyed: ${keyed}] the retry of a request whose id another replica holds is not told IDEMPOTENCY_KEY_REUSED because another request with the id runs in this process`, async (t) => {
    const { clock, replica } = cluster(t, { waitMs: 20 })
    const b = heldClaimFirst(replica)
    const bRun = settle(b.r.create('q1', { stationId: 'MID' }))
    await b.inHandler.wait
    const aGo = gate()
    let n = 0
    const a = replica({ keyed, table: gatedFirst(aGo, () => n++ === 0) })
    const aRun = settle(a.create('q1', { stationId: 'NEAR' }))
    await new Promise((r) => setTimeout(r, 10))
    t.same(await settle(a.create('q1', { stationId: 'MID' })), { ok: false, code: 'IDEMPOTENCY_IN_PROGRESS' }, 'the retry is told to ask again')
    aGo.open()
    b.go.open()
    const bOut = await bRun
    t.match(bOut, { ok: true, v: { reservation: { stationId: 'MID' } } }, 'the holder books')
    t.same(await aRun, { ok: false, code: 'IDEMPOTENCY_KEY_REUSED' }, 'the other request is refused')
    t.same(await settle(a.create('q1', { stationId: 'MID' })), bOut, 'the next retry gets the holder\'s answer')
    t.equal(await reservations(a, clock), 1)
  })

  t.test(`[keyed: ${keyed}] a repeat of a request running on another replica, behind a run in this process, is told IDEMPOTENCY_IN_PROGRESS within one waitMs`, async (t) => {
    const waitMs = 600
    const { replica } = cluster(t, { waitMs })
    const b = heldClaimFirst(replica)
    const bRun = settle(b.r.create('q1'))
    await b.inHandler.wait
    let n = 0
    const slowFirst = { wait: new Promise<void>((r) => setTimeout(r, 500)) }
    const a = replica({ keyed, table: gatedFirst(slowFirst, () => n++ === 0) })
    const first = settle(a.create('q1'))
    await new Promise((r) => setTimeout(r, 10))
    const t0 = performance.now()
    t.same(await settle(a.create('q1')), { ok: false, code: 'IDEMPOTENCY_IN_PROGRESS' })
    const took = performance.now() - t0
    // Two waits back to back would take about 2 x waitMs (1.1 s); 300 ms is room for a loaded machine.
    t.ok(took < waitMs + 300, `told within one waitMs (took ${Math.round(took)} ms, waitMs ${waitMs})`)
    t.same(await first, { ok: false, code: 'IDEMPOTENCY_IN_PROGRESS' }, 'the first in this process, too')
    b.go.open()
    await bRun
  })
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Replica `r`'s booking writes (keyed or not): the first goes, the next stalls until `go` (`at` opens as it stalls). */
function stallSecondWrite(r: Replica) {
  const at = gate()
  const go = gate()
  let calls = 0
  const stall = async <T>(write: () => Promise<T>): Promise<T> => {
    if (++calls > 1) {
      at.open()
      await go.wait
    }
    return write()
  }
  const k = r.store.keyedReservations
  const kFirst = k.createReservation.bind(k)
  k.createReservation = (input, keyed) => stall(() => kFirst(input, keyed))
  const pFirst = r.store.reservations.createReservation.bind(r.store.reservations)
  r.store.reservations.createReservation = (input) => stall(() => pFirst(input))
  return { at, go }
}

/** Books the 16 stations nearest HERE at NOW + `minutes` (MANY), so a nearest-free create then writes twice. */
async function fillFirstBatch(replica: ReturnType<typeof cluster>['replica'], minutes = 180): Promise<void> {
  const other = replica({ keyed: false })
  for (let i = 0; i < 16; i++) await other.create(`o${i}`, { vehicleId: `W${i}`, stationId: `M${i}`, minutes })
}

for (const keyed of [false, true]) {
  t.test(`[keyed: ${keyed}] a run whose claim (made after the id was found held) lapsed and was taken waits for the id's answer as a repeat does, however long it has run`, async (t) => {
    const waitMs = 400
    const { clock, replica } = cluster(t, { waitMs })
    // C holds q1 (claim first), then fails with a 5xx: q1 abandoned, free for the same request.
    const c = heldClaimFirst(replica, 'fail')
    const cRun = settle(c.r.create('q1'))
    await c.inHandler.wait
    // A finds C's claim and waits; once C gives it up A claims q1, and its run stalls before booking.
    const aGo = gate()
    const aAtGate = gate()
    let n = 0
    const a = replica({
      keyed,
      table: (table) =>
        ({
          ...table,
          'reservation.create': async (...x: unknown[]) => {
            if (n++ === (keyed ? 1 : 0)) {
              aAtGate.open()
              await aGo.wait
            }
            return (table['reservation.create'] as (...y: unknown[]) => Promise<unknown>)(...x)
          },
        }) as HandlerTable,
    })
    const aRun = settle(a.create('q1'))
    await pause(50)
    c.go.open()
    await cRun
    await aAtGate.wait
    // A stalls a whole lease: D takes its lapsed claim and runs the request (held in its handler).
    clock.advance(7_000)
    const d = heldClaimFirst(replica)
    const dRun = settle(d.r.create('q1'))
    await d.inHandler.wait
    await pause(waitMs + 100) // A's request began more than waitMs ago
    aGo.open()
    await pause(50)
    d.go.open() // D answers well within one waitMs of A finding its claim taken
    const dOut = await dRun
    t.match(dOut, { ok: true, v: { reservation: { stationId: 'NEAR' } } }, 'D books')
    t.same(await aRun, dOut, 'A answers the id\'s one answer')
    t.equal(await reservations(d.r, clock), 1)
  })

  t.test(`[keyed: ${keyed}] a run whose first write claimed the id, lapsed and taken before its second, waits for the id's answer`, async (t) => {
    const waitMs = 400
    const { clock, replica } = cluster(t, { waitMs, stations: MANY })
    await fillFirstBatch(replica)
    const a = replica({ keyed })
    const aStall = stallSecondWrite(a)
    const aRun = settle(a.create('q1', { stationId: null }))
    await aStall.at.wait
    clock.advance(7_000)
    const d = heldClaimFirst(replica)
    const dRun = settle(d.r.create('q1', { stationId: null }))
    await d.inHandler.wait
    await pause(waitMs + 100)
    aStall.go.open()
    await pause(50)
    d.go.open()
    const dOut = await dRun
    t.equal(dOut.ok, true, 'D answers')
    t.same(await aRun, dOut, 'A answers the id\'s one answer')
  })

  t.test(`[keyed: ${keyed}] a live replica's run keeps its claim while it runs (renewed): a repeat on another replica meanwhile is told IDEMPOTENCY_IN_PROGRESS, not run again`, async (t) => {
    const { clock, replica } = cluster(t, { waitMs: 0, stations: MANY })
    await fillFirstBatch(replica)
    const a = replica({ keyed })
    const aStall = stallSecondWrite(a)
    const aRun = settle(a.create('q1', { stationId: null }))
    await aStall.at.wait
    // A is alive, waiting on its second write: 5 s pass, A's renewal (every 2 s) runs, 2 s more pass.
    clock.advance(5_000)
    await pause(2_300)
    clock.advance(2_000)
    const b = replica({ keyed })
    t.same(await settle(b.create('q1', { stationId: null })), { ok: false, code: 'IDEMPOTENCY_IN_PROGRESS' }, 'the repeat is told to ask again')
    aStall.go.open()
    const aOut = await aRun
    t.equal(aOut.ok, true, 'A books')
    t.same(await settle(b.create('q1', { stationId: null })), aOut, 'then the repeat gets A\'s answer')
  })
}

t.test('a create whose write meets a locked database fails once: no second write to claim the id, which would wait out the lock again', async (t) => {
  const { clock, replica } = cluster(t)
  const a = replica({ busyTimeoutMs: 50 })
  const locker = replica()
  let claims = 0
  const claim = a.store.idempotency.claim.bind(a.store.idempotency)
  a.store.idempotency.claim = (input) => {
    claims++
    return claim(input)
  }
  locker.store.db.exec('BEGIN IMMEDIATE')
  try {
    const e = await a.create('q1').catch((x: unknown) => x)
    t.match(e, { name: 'StoreError', code: 'BUSY' }, 'the store\'s failure, as the claim-first path meets it at its claim')
    t.equal(claims, 0, 'no claim attempted after the failed write')
  } finally {
    locker.store.db.exec('ROLLBACK')
  }
  t.match(await a.create('q1'), { reservation: { stationId: 'NEAR' } }, 'once the lock is gone the same request books')
  t.equal(await reservations(a, clock), 1)
})
