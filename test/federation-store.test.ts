import t from 'tap'
import { LATEST_VERSION } from '../hub/store/index.js'
import { federationStoreContract, trip } from './helpers/federation-store-contract.js'
import { onEveryStore } from './helpers/store-harnesses.js'
import { tempSqlite } from './helpers/store-sqlite.js'

await onEveryStore(t, federationStoreContract)

t.test('SqliteStore: trips, releases and the ledger survive a restart', async (t) => {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  const first = tmp.open()
  await first.trips.createTrip(trip())
  await first.trips.addReleases([
    { releaseId: 'r1', tripId: 'trip-1', hubId: 'x', kind: 'hold', targetId: 'h', vehicleId: 'V1', idempotencyKey: 'k', untilMs: 5, attempts: 2, nextAtMs: 9 },
  ])
  await first.trips.releasePeerHold({ holdId: 'tomb', peerHubId: 'feira', nowMs: 1 })
  await first.idempotency.claim({ scope: 's', key: 'k', fingerprint: 'f', nowMs: 1, leaseMs: 10, owner: 'o' })
  await first.idempotency.complete({ scope: 's', key: 'k', owner: 'o', status: 201, body: '{}', nowMs: 1 })
  await first.close()
  const again = tmp.open()
  t.equal(again.schemaVersion, LATEST_VERSION)
  t.same(await again.trips.getTrip('trip-1'), trip())
  t.equal((await again.trips.listReleases()).length, 1)
  t.match(await again.trips.getPeerHold('tomb'), { state: 'released' })
  t.same(await again.idempotency.claim({ scope: 's', key: 'k', fingerprint: 'f', nowMs: 2, leaseMs: 10, owner: 'o2' }), { state: 'done', status: 201, body: '{}' })
})
