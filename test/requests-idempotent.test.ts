import t from 'tap'
import { pino } from 'pino'
import { idempotentOps } from '../hub/requests/idempotent.js'
import { coreOpHandlers, createHubContext } from '../hub/ops/index.js'
import { MemoryStore } from '../hub/store/index.js'
import { TestClock } from '../hub/clock.js'
import { OPS, VoltwayError, type OpHandler } from '../protocol/index.js'
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

t.test('a request whose first run booked is answered that booking when run again, even once its time is too soon to book', async (t) => {
  const { store, clock, create } = setup()
  const first = await create('q1')
  await store.idempotency.deleteOlderThan(clock.now() + 1)
  clock.advanceMinutes(179) // one minute before the reservation: far inside the minimum lead time
  t.same(await create('q1'), first, 'the same reservation, not TOO_SOON')
  t.match(await create('q2').catch((e: unknown) => e), { code: 'TOO_SOON' }, 'a new request at that time is too soon')
  t.equal((await store.reservations.counts(clock.now())).reservations, 1)
})
