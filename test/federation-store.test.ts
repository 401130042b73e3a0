import t from 'tap'
import { LATEST_VERSION, MemoryStore } from '../hub/store/index.js'
import { federationStoreContract, trip } from './helpers/federation-store-contract.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'
import { tempSqlite } from './helpers/store-sqlite.js'

federationStoreContract(t, 'MemoryStore', async () => {
  const store = new MemoryStore()
  return { store, other: () => store, dispose: () => store.close() }
})

federationStoreContract(t, 'SqliteStore', async () => {
  const tmp = tempSqlite()
  const store = tmp.open()
  return { store, other: () => tmp.open(), dispose: () => tmp.dispose() }
})

const pgSkip = await postgresSkipReason()
if (pgSkip) {
  t.skip(`SKIP PostgresStore: ${pgSkip}`, () => undefined)
} else {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  federationStoreContract(t, 'PostgresStore', async () => {
    const schema = pg.schema()
    const [store, other] = await Promise.all([schema.open(), schema.open()])
    return { store, other: () => other, dispose: () => schema.dispose() }
  })
}

t.test('SqliteStore: trips, releases and the ledger survive a restart', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const first = tmp.open()
  await first.trips.createTrip(trip())
  await first.trips.addReleases([
    { releaseId: 'r1', tripId: 'trip-1', hubId: 'x', kind: 'hold', targetId: 'h', vehicleId: 'V1', idempotencyKey: 'k', untilMs: 5, attempts: 2, nextAtMs: 9 },
  ])
  await first.trips.releasePeerHold({ holdId: 'tomb', peerHubId: 'feira', nowMs: 1 })
  await first.idempotency.claim({ scope: 's', key: 'k', fingerprint: 'f', nowMs: 1, leaseMs: 10 })
  await first.idempotency.complete({ scope: 's', key: 'k', status: 201, body: '{}', nowMs: 1 })
  await first.close()
  const again = tmp.open()
  t.equal(again.schemaVersion, LATEST_VERSION)
  t.same(await again.trips.getTrip('trip-1'), trip())
  t.equal((await again.trips.listReleases()).length, 1)
  t.match(await again.trips.getPeerHold('tomb'), { state: 'released' })
  t.same(await again.idempotency.claim({ scope: 's', key: 'k', fingerprint: 'f', nowMs: 2, leaseMs: 10 }), { state: 'done', status: 201, body: '{}' })
})
