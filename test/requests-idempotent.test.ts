import t from 'tap'
import { pino } from 'pino'
import { idempotentOps } from '../hub/requests/idempotent.js'
import { coreOpHandlers, createHubContext } from '../hub/ops/index.js'
import { MemoryStore } from '../hub/store/index.js'
import { TestClock } from '../hub/clock.js'
import { OPS, VoltwayError, type HandlerTable, type OpHandler } from '../protocol/index.js'
import type { IdempotencyStore } from '../hub/store/index.js'
import { HERE, NOW, testConfig } from './helpers/store-hub.js'

function setup() {
  const clock = new TestClock(NOW)
  const store = new MemoryStore()
  const ctx = createHubContext({ config: testConfig(), store, clock })
  const handlers = idempotentOps(coreOpHandlers(ctx), { store: store.idempotency, clock, logger: pino({ enabled: false }), waitMs: 0 })
  const at = new Date(clock.now() + 180 * 60_000).toISOString().replace('.000Z', 'Z')
  const create = (requestId: string, vehicleId = 'V1', stationId = 'NEAR') =>
    (handlers['reservation.create'] as OpHandler<'reservation.create'>)(OPS['reservation.create'].args.parse({ at, position: HERE, rangeKm: 50, stationId }), { hubId: 'feira', vehicleId, requestId, op: 'reservation.create' })
  return { store, clock, create }
}

t.test('a repeated request id of a mutating op answers the first answer and acts once', async (t) => {
  const { store, clock, create } = setup()
  const first = await create('q1')
  t.same(await create('q1'), first, 'same answer')
  t.equal((await store.reservations.counts(clock.now())).reservations, 1, 'one reservation')
  const refused = await create('q2').catch((e: unknown) => e)
  t.match(refused, { code: 'RESERVATION_CONFLICT' }, 'another request id is another request')
  t.same(await create('q2').catch((e: unknown) => e), refused, 'a refusal is answered again too')
})

t.test('a request id reused for another request is refused IDEMPOTENCY_KEY_REUSED, changing nothing', async (t) => {
  const { store, clock, create } = setup()
  await create('q1', 'V1', 'NEAR')
  const e = await create('q1', 'V1', 'MID').catch((x: unknown) => x)
  t.ok(e instanceof VoltwayError && e.code === 'IDEMPOTENCY_KEY_REUSED')
  t.equal((await store.reservations.counts(clock.now())).reservations, 1)
})

t.test('a request whose first run died after booking books nothing more when run again (the booking id comes from the request)', async (t) => {
  const { store, clock, create } = setup()
  const first = await create('q1')
  // The replica died before storing the answer: the claim is gone (lapsed), the booking stays.
  await store.idempotency.deleteOlderThan(clock.now() + 1)
  t.same(await create('q1'), first, 'the same reservation')
  t.equal((await store.reservations.counts(clock.now())).reservations, 1)
})

/** A store whose renewals the test can wait for. */
function renewalsOf(store: IdempotencyStore): { store: IdempotencyStore; next: () => Promise<boolean> } {
  const waiters: Array<(held: boolean) => void> = []
  const counted: IdempotencyStore = {
    ...bound(store),
    async renew(i) {
      const held = await store.renew(i)
      waiters.splice(0).forEach((w) => w(held))
      return held
    },
  }
  return { store: counted, next: () => new Promise((r) => waiters.push(r)) }
}

/** A mutating op that runs until the test lets it finish, counting its runs. */
function slowOp() {
  let runs = 0
  let finish: () => void = () => undefined
  const done = new Promise<void>((r) => (finish = r))
  const table = {
    'reservation.cancel': async () => {
      runs++
      await done
      return { cancelled: 1 }
    },
  } as unknown as HandlerTable
  return { table, runs: () => runs, finish }
}

const LEASE_MS = 300

t.test('a request running longer than its claim lease keeps its claim: a repeat is IDEMPOTENCY_IN_PROGRESS, then gets the one answer', async (t) => {
  const clock = new TestClock(NOW)
  const r = renewalsOf(new MemoryStore().idempotency)
  const op = slowOp()
  const handlers = idempotentOps(op.table, { store: r.store, clock, logger: pino({ enabled: false }), leaseMs: LEASE_MS, waitMs: 0 })
  const cancel = (id: string) => (handlers['reservation.cancel'] as OpHandler<'reservation.cancel'>)({ reservationId: 'r-1' }, { hubId: 'feira', vehicleId: 'V1', requestId: id, op: 'reservation.cancel' })
  const first = cancel('q1')
  for (let i = 0; i < 3; i++) {
    clock.advance(LEASE_MS - 1)
    t.equal(await r.next(), true, `renewed while it runs (${i + 1})`)
  }
  // Three leases after the claim: without the renewals it would have lapsed twice.
  await t.rejects(cancel('q1'), { code: 'IDEMPOTENCY_IN_PROGRESS' })
  t.equal(op.runs(), 1, 'the repeat did not run it again')
  op.finish()
  t.same(await first, { cancelled: 1 })
  t.same(await cancel('q1'), { cancelled: 1 }, 'the repeat now gets the first answer')
  t.equal(op.runs(), 1)
})

t.test('a claim whose replica died lapses one lease after its last renewal: the repeat then runs on a live replica', async (t) => {
  const clock = new TestClock(NOW)
  const store = new MemoryStore().idempotency
  const logger = pino({ enabled: false })
  // Replica a takes the request and dies in it: it never answers, and no renewal of its reaches the database.
  const dead = slowOp()
  // Its handler ends with the test, so its timers do too.
  t.teardown(dead.finish)
  const silent: IdempotencyStore = { ...bound(store), renew: async () => true }
  const a = idempotentOps(dead.table, { store: silent, clock, logger, leaseMs: LEASE_MS, waitMs: 0 })
  const live = slowOp()
  live.finish()
  const b = idempotentOps(live.table, { store, clock, logger, leaseMs: LEASE_MS, waitMs: 0 })
  const cancel = (h: HandlerTable) => (h['reservation.cancel'] as OpHandler<'reservation.cancel'>)({ reservationId: 'r-1' }, { hubId: 'feira', vehicleId: 'V1', requestId: 'q1', op: 'reservation.cancel' })
  void cancel(a)
  await t.resolveMatch(waitFor(() => dead.runs() === 1), true, 'replica a runs it')
  clock.advance(LEASE_MS - 1)
  await t.rejects(cancel(b), { code: 'IDEMPOTENCY_IN_PROGRESS' }, 'within the lease: the claim is still a\'s')
  t.equal(live.runs(), 0)
  clock.advance(1)
  t.same(await cancel(b), { cancelled: 1 }, 'one lease on: replica b runs it')
  t.equal(live.runs(), 1)
  t.same(await cancel(b), { cancelled: 1 }, 'and its answer is the one kept')
  t.equal(live.runs(), 1)
})

/** The store's methods, bound, to spread into a stand-in. */
function bound(store: IdempotencyStore): IdempotencyStore {
  return {
    claim: (i) => store.claim(i),
    renew: (i) => store.renew(i),
    complete: (i) => store.complete(i),
    abandon: (i) => store.abandon(i),
    deleteOlderThan: (c) => store.deleteOlderThan(c),
  }
}

/** Resolves true once `cond` holds (checked on each turn of the event loop). */
async function waitFor(cond: () => boolean): Promise<boolean> {
  while (!cond()) await new Promise((r) => setImmediate(r))
  return true
}

t.test('a request whose first run booked is answered that booking when run again, even once its time is too soon to book', async (t) => {
  const { store, clock, create } = setup()
  const first = await create('q1')
  await store.idempotency.deleteOlderThan(clock.now() + 1)
  clock.advanceMinutes(179) // one minute before the reservation: far inside the minimum lead time
  t.same(await create('q1'), first, 'the same reservation, not TOO_SOON')
  t.match(await create('q2').catch((e: unknown) => e), { code: 'TOO_SOON' }, 'a new request at that time is too soon')
  t.equal((await store.reservations.counts(clock.now())).reservations, 1)
})

t.test('an op that answers IDEMPOTENCY_IN_PROGRESS itself (route.reserve of a trip still being booked or undone) is not kept: the next repeat runs it again and gets how it ended', async (t) => {
  const clock = new TestClock(NOW)
  let runs = 0
  const table = {
    'reservation.cancel': async () => {
      // First run: what the trip it names is doing now (a dead replica's trip not yet undone); then its outcome.
      if (++runs === 1) throw new VoltwayError('IDEMPOTENCY_IN_PROGRESS', 'trip t-1 is still being booked or undone', { tripId: 't-1' })
      return { cancelled: 1 }
    },
  } as unknown as HandlerTable
  const handlers = idempotentOps(table, { store: new MemoryStore().idempotency, clock, logger: pino({ enabled: false }), waitMs: 0 })
  const cancel = () => (handlers['reservation.cancel'] as OpHandler<'reservation.cancel'>)({ reservationId: 'r-1' }, { hubId: 'feira', vehicleId: 'V1', requestId: 'q1', op: 'reservation.cancel' })
  await t.rejects(cancel(), { code: 'IDEMPOTENCY_IN_PROGRESS' }, 'the first run: ask again')
  t.same(await cancel(), { cancelled: 1 }, 'the repeat runs afresh and gets the outcome (before: IDEMPOTENCY_IN_PROGRESS replayed for 24 h)')
  t.equal(runs, 2)
  t.same(await cancel(), { cancelled: 1 }, 'and that outcome is the one kept')
  t.equal(runs, 2)
})

/** Replica a (its renewals stuck: a stalled process) runs `q1` and holds it; the returned `cancel` asks it on a table of replica b's. */
async function lateRun(t: { teardown(fn: () => unknown): void }, store: IdempotencyStore, clock: TestClock) {
  const logger = pino({ enabled: false })
  const stalled = slowOp()
  t.teardown(stalled.finish)
  const a = idempotentOps(stalled.table, { store: { ...bound(store), renew: () => new Promise<boolean>(() => undefined) }, clock, logger, leaseMs: LEASE_MS, waitMs: 0 })
  const cancel = (h: HandlerTable) => (h['reservation.cancel'] as OpHandler<'reservation.cancel'>)({ reservationId: 'r-1' }, { hubId: 'feira', vehicleId: 'V1', requestId: 'q1', op: 'reservation.cancel' }).catch((e: unknown) => e)
  const ofA = cancel(a)
  await waitFor(() => stalled.runs() === 1)
  clock.advance(LEASE_MS)
  const b = (table: HandlerTable) => idempotentOps(table, { store, clock, logger, leaseMs: LEASE_MS, waitMs: 0 })
  return { ofA, finishA: stalled.finish, cancel, b }
}

t.test('a late run (its claim lapsed and taken) whose taker still runs answers IDEMPOTENCY_IN_PROGRESS; the taker\'s answer is the one kept', async (t) => {
  const clock = new TestClock(NOW)
  const store = new MemoryStore().idempotency
  const late = await lateRun(t, store, clock)
  const taker = slowOp()
  const b = late.b(taker.table)
  const ofB = late.cancel(b)
  await waitFor(() => taker.runs() === 1)
  late.finishA()
  t.match(await late.ofA, { code: 'IDEMPOTENCY_IN_PROGRESS' }, 'the late run: ask again')
  taker.finish()
  t.same(await ofB, { cancelled: 1 })
  t.same(await late.cancel(b), { cancelled: 1 }, 'a repeat: the taker\'s answer')
  t.equal(taker.runs(), 1)
})

t.test('a late run whose taker abandoned the id (an answer not kept) stores its own answer: it is the id\'s answer', async (t) => {
  const clock = new TestClock(NOW)
  const store = new MemoryStore().idempotency
  const late = await lateRun(t, store, clock)
  const b = late.b({ 'reservation.cancel': async () => { throw new VoltwayError('INTERNAL', 'internal error') } } as unknown as HandlerTable)
  t.match(await late.cancel(b), { code: 'INTERNAL' }, 'the taker failed: its claim is abandoned')
  late.finishA()
  t.same(await late.ofA, { cancelled: 1 }, 'the late run answers its own answer')
  const again = slowOp()
  again.finish()
  t.same(await late.cancel(late.b(again.table)), { cancelled: 1 }, 'a repeat gets it')
  t.equal(again.runs(), 0, 'and runs nothing')
})

t.test('an id whose first answer was not kept (INTERNAL) is still that request\'s: sent again with other args it is refused IDEMPOTENCY_KEY_REUSED, unchanged it runs afresh', async (t) => {
  const clock = new TestClock(NOW)
  const ran: string[] = []
  const table = {
    'reservation.cancel': async (args: { reservationId: string }) => {
      ran.push(args.reservationId)
      if (ran.length === 1) throw new VoltwayError('INTERNAL', 'internal error')
      return { cancelled: 1 }
    },
  } as unknown as HandlerTable
  const handlers = idempotentOps(table, { store: new MemoryStore().idempotency, clock, logger: pino({ enabled: false }), waitMs: 0 })
  const cancel = (reservationId: string) =>
    (handlers['reservation.cancel'] as OpHandler<'reservation.cancel'>)({ reservationId }, { hubId: 'feira', vehicleId: 'V1', requestId: 'q1', op: 'reservation.cancel' })
  await t.rejects(cancel('r-1'), { code: 'INTERNAL' }, 'the first run fails; its answer is not kept')
  await t.rejects(cancel('r-2'), { code: 'IDEMPOTENCY_KEY_REUSED' }, 'the id with other args: refused, as while the first ran (before: run as a new request)')
  t.same(ran, ['r-1'], 'nothing ran for it')
  t.same(await cancel('r-1'), { cancelled: 1 }, 'the same request again: runs afresh')
  t.same(ran, ['r-1', 'r-1'])
})
