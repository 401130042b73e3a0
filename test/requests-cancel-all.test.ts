/**
 * reservation.cancel `{all: true}` repeated after its first run took effect
 * and its answer was never stored (the replica died, or its store refused the
 * answer for good): the claim lapses and the repeat runs again. It must cancel
 * only what existed when the request id was first seen, not what the vehicle
 * booked since (docs/protocol.md "Repeated requests").
 */
import t from 'tap'
import { pino } from 'pino'
import { idempotentOps } from '../hub/requests/idempotent.js'
import { StoreError, type IdempotencyStore } from '../hub/store/index.js'
import { OPS, type HandlerTable, type OpHandler } from '../protocol/index.js'
import { HERE, MIN, STORE_KINDS, inMinutes, testHub } from './helpers/store-hub.js'

const LEASE_MS = 6_000

/** A replica whose store takes claims but refuses every answer for good (closed under it): a claim it makes lapses unanswered. */
function refusingAnswers(store: IdempotencyStore): IdempotencyStore {
  return {
    claim: (i) => store.claim(i),
    renew: (i) => store.renew(i),
    complete: () => Promise.reject(new StoreError('CLOSED', 'the store is closed')),
    abandon: (i) => store.abandon(i),
    deleteOlderThan: (c) => store.deleteOlderThan(c),
  }
}

for (const kind of STORE_KINDS) {
  t.test(`${kind}: a cancel-all repeated after its answer was lost cancels only what was booked before its id was first seen`, async (t) => {
    const hub = await testHub(kind)
    t.teardown(() => hub.dispose())
    const logger = pino({ enabled: false })
    const lost = idempotentOps(hub.handlers, { store: refusingAnswers(hub.store.idempotency), clock: hub.clock, logger, leaseMs: LEASE_MS, waitMs: 0 })
    const live = idempotentOps(hub.handlers, { store: hub.store.idempotency, clock: hub.clock, logger, leaseMs: LEASE_MS, waitMs: 0 })
    const book = async (h: HandlerTable, requestId: string): Promise<string> => {
      const args = OPS['reservation.create'].args.parse({ at: inMinutes(hub.clock, 180), position: HERE, rangeKm: 50, stationId: 'NEAR' })
      const out = await (h['reservation.create'] as OpHandler<'reservation.create'>)(args, { hubId: 'feira', vehicleId: 'V1', requestId, op: 'reservation.create' })
      return out.reservation.reservationId
    }
    const cancelAll = (h: HandlerTable, requestId: string) =>
      (h['reservation.cancel'] as OpHandler<'reservation.cancel'>)({ all: true }, { hubId: 'feira', vehicleId: 'V1', requestId, op: 'reservation.cancel' })
    const mine = async (): Promise<string[]> => (await hub.store.reservations.listVehicleReservations('V1', 0)).map((r) => r.reservationId)

    const first = await book(live, 'book-1')
    hub.clock.advance(MIN)
    t.same(await cancelAll(lost, 'cancel-1'), { cancelled: 1 }, 'the first run cancels the one booking; its answer is never stored (nor reaches the vehicle)')
    t.same(await mine(), [])
    hub.clock.advance(MIN)
    const since = await book(live, 'book-2')
    t.not(since, first)
    hub.clock.advance(MIN)
    // The vehicle asks again with the same id; the lost run's claim lapsed long ago: this run is a re-run.
    t.same(await cancelAll(live, 'cancel-1'), { cancelled: 0 }, 'the re-run cancels nothing more')
    t.same(await mine(), [since], 'the booking made since the first run survives')
    t.same(await cancelAll(live, 'cancel-1'), { cancelled: 0 }, 'its answer is the one kept')
    t.same(await cancelAll(live, 'cancel-2'), { cancelled: 1 }, 'a new request id cancels it')
    t.same(await mine(), [])
  })
}
