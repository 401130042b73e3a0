/**
 * The per-vehicle booking limit on PostgreSQL (hub/reservations/vehicle-limit.ts):
 * exact with one hub process; with N replicas on one database at most
 * `limit + N - 1` live bookings, the bound docs/design.md states.
 */
import t from 'tap'
import { TestClock } from '../hub/clock.js'
import { createHubContext, type HubContext } from '../hub/ops/index.js'
import { HERE, NOW, inMinutes, testConfig } from './helpers/store-hub.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'

const skip = await postgresSkipReason()
const LIMIT = 5

/** 30 creates of V1 at once, spread over the contexts (replicas), each its own id and slot; how many succeeded and how many were refused for the limit. */
async function burst(contexts: HubContext[], clock: TestClock): Promise<{ ok: number; limited: number; rows: number }> {
  const tries = await Promise.allSettled(
    Array.from({ length: 30 }, (_, i) =>
      (contexts[i % contexts.length] as HubContext).reservations.create('V1', { at: inMinutes(clock, 180 + 120 * i), position: HERE, rangeKm: 50 }),
    ),
  )
  const ok = tries.filter((r) => r.status === 'fulfilled').length
  const limited = tries.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'RESERVATION_LIMIT').length
  const rows = (await (contexts[0] as HubContext).store.reservations.listVehicleReservations('V1', 0)).length
  return { ok, limited, rows }
}

t.test('PostgreSQL: concurrent creates of one vehicle through one hub stop exactly at the limit; through 2 replicas at most limit + 1', { skip: skip ?? false }, async (t) => {
  const db = await tempPostgres()
  t.teardown(() => db.dispose())
  const config = testConfig({ rules: { maxReservationsPerVehicle: LIMIT } })
  let n = 0
  const newReservationId = (): string => `r${++n}`

  const one = db.schema()
  const clock = new TestClock(NOW)
  const single = await burst([createHubContext({ config, store: await one.open(), clock, newReservationId })], clock)
  t.same(single, { ok: LIMIT, limited: 30 - LIMIT, rows: LIMIT }, 'one process: exact')

  const two = db.schema()
  const replicas = [createHubContext({ config, store: await two.open(), clock, newReservationId }), createHubContext({ config, store: await two.open(), clock, newReservationId })]
  const both = await burst(replicas, clock)
  t.ok(both.rows >= LIMIT && both.rows <= LIMIT + 1, `2 replicas: ${both.rows} rows, within [limit, limit + 1]`)
  t.equal(both.ok, both.rows)
  t.equal(both.limited, 30 - both.ok, 'every other create was refused for the limit')
  t.comment(`figures: 2 replicas booked ${both.rows} for a limit of ${LIMIT}`)
  await one.dispose()
  await two.dispose()
})
