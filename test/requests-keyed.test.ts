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
import { HERE, NOW, testConfig } from './helpers/store-hub.js'
import { tempSqlite } from './helpers/store-sqlite.js'

type Create = (requestId: string, o?: { vehicleId?: string; stationId?: string; minutes?: number }) => Promise<OpResult<'reservation.create'>>

interface Replica {
  store: SqliteStore
  handlers: HandlerTable
  create: Create
}

/** Replicas on one SQLite file, each with its own connection, context and request-id layer, at one TestClock. */
function cluster(t: Test, wrap: (table: HandlerTable) => HandlerTable = (x) => x) {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const clock = new TestClock(NOW)
  const replica = (o: { keyed?: boolean; table?: (table: HandlerTable) => HandlerTable } = {}): Replica => {
    const store = tmp.open()
    const ctx = createHubContext({ config: testConfig(), store, clock })
    const table = (o.table ?? wrap)(coreOpHandlers(ctx) as unknown as HandlerTable)
    const keyed = o.keyed ?? true
    const handlers = idempotentOps(table, { store: store.idempotency, clock, logger: pino({ enabled: false }), waitMs: 0, ...(keyed ? { keyedOps: new Set(['reservation.create']) } : {}) })
    const create: Create = (requestId, c = {}) => {
      const at = new Date(clock.now() + (c.minutes ?? 180) * 60_000).toISOString().replace('.000Z', 'Z')
      const args = OPS['reservation.create'].args.parse({ at, position: HERE, rangeKm: 50, stationId: c.stationId ?? 'NEAR' })
      return (handlers['reservation.create'] as OpHandler<'reservation.create'>)(args, { hubId: 'feira', vehicleId: c.vehicleId ?? 'V1', requestId, op: 'reservation.create' })
    }
    return { store, handlers, create }
  }
  return { clock, replica }
}

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
  const { clock, replica } = cluster(t)
  const a = replica()
  const [x, y] = await Promise.all([a.create('q1'), a.create('q1')])
  t.same(x, y)
  t.equal(await reservations(a, clock), 1)
})

t.test('one id sent at once in one process for two requests: one books, the other is IDEMPOTENCY_KEY_REUSED', async (t) => {
  const { clock, replica } = cluster(t)
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
