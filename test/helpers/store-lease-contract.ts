/**
 * Contract of the lease sub-store (hub/store/leases.ts), run against every
 * Store implementation: who may take a lease, and that of concurrent takers
 * on one database exactly one wins.
 */
import type { Test } from 'tap'
import type { Store } from '../../hub/store/index.js'
import type { FedStoreHarness } from './federation-store-contract.js'

const T0 = Date.parse('2026-11-24T12:00:00Z')
const TTL = 10_000

export function leaseStoreContract(tap: Test, name: string, open: () => Promise<FedStoreHarness>): void {
  const check = (rule: string, body: (t: Test, h: FedStoreHarness) => Promise<void>): void => {
    tap.test(`${name}: ${rule}`, async (t) => {
      const h = await open()
      t.teardown(() => h.dispose())
      await body(t, h)
    })
  }
  const acquire = (store: Store, owner: string, nowMs = T0, lease = 'trip:t1') => store.leases.acquire({ name: lease, owner, nowMs, ttlMs: TTL })

  check('a free lease is taken; a live lease of another owner is not', async (t, { store }) => {
    t.equal(await acquire(store, 'r1'), true)
    t.equal(await acquire(store, 'r2', T0 + TTL - 1), false)
    t.equal(await acquire(store, 'r1', T0 + 1), true, 'its owner takes it again (renewal)')
  })

  check('an expired lease is taken over by another owner, from then on it is the new owner\'s', async (t, { store }) => {
    await acquire(store, 'r1')
    t.equal(await acquire(store, 'r2', T0 + TTL), true, 'expired exactly at expiresAtMs')
    t.equal(await acquire(store, 'r1', T0 + TTL + 1), false)
  })

  check('renewAll keeps every lease of a live owner, and only its own', async (t, { store }) => {
    await acquire(store, 'r1', T0, 'a')
    await acquire(store, 'r1', T0, 'b')
    await acquire(store, 'r2', T0, 'c')
    t.equal(await store.leases.renewAll({ owner: 'r1', nowMs: T0 + TTL - 1, ttlMs: TTL }), 2)
    t.equal(await acquire(store, 'r3', T0 + TTL, 'a'), false, 'renewed')
    t.equal(await acquire(store, 'r3', T0 + TTL, 'c'), true, 'not renewed by another owner')
  })

  check('release frees a lease only for its owner; deleteExpired removes expired ones', async (t, { store }) => {
    await acquire(store, 'r1', T0, 'a')
    await store.leases.release('a', 'r2')
    t.equal(await acquire(store, 'r2', T0 + 1, 'a'), false, 'another owner cannot release it')
    await store.leases.release('a', 'r1')
    t.equal(await acquire(store, 'r2', T0 + 1, 'a'), true)
    await acquire(store, 'r1', T0, 'b')
    t.equal(await store.leases.deleteExpired(T0 + TTL), 1, 'b expired; a (taken at T0+1) did not')
    t.equal(await acquire(store, 'r2', T0 + TTL, 'a'), true)
  })

  check('of concurrent acquires of one free lease on one database exactly one wins', async (t, h) => {
    const stores = [h.store, h.other(), h.other()]
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => acquire(stores[i % stores.length] as Store, `r${i}`)))
    t.equal(results.filter(Boolean).length, 1)
  })
}
