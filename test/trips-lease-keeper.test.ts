/**
 * LeaseKeeper (hub/trips/lease-keeper.ts): a release the caller does not wait
 * for (the coordinator's, so that it shares the next group commit) still comes
 * before a later acquire of the same lease by this replica, on any store; a
 * release that fails is tried again while the heartbeat would renew it.
 */
import { pino } from 'pino'
import t from 'tap'
import { TestClock } from '../hub/clock.js'
import { MemoryStore, type LeaseStore } from '../hub/store/index.js'
import { LeaseKeeper } from '../hub/trips/lease-keeper.js'
import { waitUntil } from './helpers/net.js'

/**
 * The memory store's leases, whose releases go through `release` (given the real one: a slow or failing
 * database connection); counts the heartbeat's renewals.
 */
function leasesWith(release: (real: LeaseStore['release'], name: string, owner: string) => Promise<void>): { leases: LeaseStore; renewals: () => number } {
  const store = new MemoryStore()
  let renewals = 0
  const leases: LeaseStore = {
    acquire: (i) => store.leases.acquire(i),
    renewAll: (i) => {
      renewals++
      return store.leases.renewAll(i)
    },
    deleteExpired: (n) => store.leases.deleteExpired(n),
    release: (name, owner) => release((n, o) => store.leases.release(n, o), name, owner),
  }
  return { leases, renewals: () => renewals }
}

t.test('an acquire right after a release not waited for comes after it: the lease is held, not deleted behind it', async (t) => {
  let open = (): void => undefined
  const gate = new Promise<void>((r) => (open = r))
  const { leases } = leasesWith(async (real, name, owner) => {
    await gate
    return real(name, owner)
  })
  const clock = new TestClock('2026-11-24T12:00:00Z')
  const keeper = new LeaseKeeper({ store: leases, clock, logger: pino({ level: 'silent' }), owner: 'r1' })
  const other = new LeaseKeeper({ store: leases, clock, logger: pino({ level: 'silent' }), owner: 'r2' })
  t.equal(await keeper.acquire('trip:t1'), true)
  void keeper.release('trip:t1')
  const again = keeper.acquire('trip:t1')
  open()
  t.equal(await again, true)
  t.equal(await other.acquire('trip:t1'), false, 'r1 holds it: its release ran first, then its acquire')
  await keeper.release('trip:t1')
  t.equal(await other.acquire('trip:t1'), true, 'released for good')
})

t.test('a release that fails is logged, never rejects, and does not hold up the next acquire', async (t) => {
  const { leases } = leasesWith(async () => Promise.reject(new Error('database gone')))
  const warnings: string[] = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(String(JSON.parse(line).msg)) })
  const keeper = new LeaseKeeper({ store: leases, clock: new TestClock('2026-11-24T12:00:00Z'), logger, owner: 'r1' })
  t.equal(await keeper.acquire('trip:t1'), true)
  await keeper.release('trip:t1')
  t.same(warnings, ['could not give a lease back'])
  t.equal(await keeper.acquire('trip:t1'), true)
})

// The heartbeat runs on real timers (the clock's setTimer); the manual clock stands still, so no lease
// runs out here: only a release frees one. TTL 60 ms: a heartbeat every 20 ms.
for (const retaken of [false, true]) {
  t.test(retaken
    ? 'a lease taken again before its failed release is tried again stays held'
    : 'a release that failed is tried again at the next heartbeat, which would otherwise renew the lease for as long as the replica lives', async (t) => {
    let failures = 1
    const { leases, renewals } = leasesWith(async (real, name, owner) => {
      if (failures-- > 0) throw new Error('database busy')
      return real(name, owner)
    })
    const clock = new TestClock('2026-11-24T12:00:00Z')
    const logger = pino({ level: 'silent' })
    const keeper = new LeaseKeeper({ store: leases, clock, logger, owner: 'r1', ttlMs: 60 })
    const other = new LeaseKeeper({ store: leases, clock, logger, owner: 'r2', ttlMs: 60 })
    keeper.start()
    t.teardown(() => keeper.stop())
    t.equal(await keeper.acquire('trip:t1'), true)
    await keeper.release('trip:t1')
    t.equal(await other.acquire('trip:t1'), false, 'the failed release left the lease')
    if (retaken) t.equal(await keeper.acquire('trip:t1'), true)
    const seen = renewals()
    await waitUntil(() => renewals() >= seen + 3, 5000, 'three heartbeats')
    t.equal(await other.acquire('trip:t1'), !retaken, retaken ? "still r1's" : 'given back by the retry, not renewed')
  })
}
