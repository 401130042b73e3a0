/**
 * Contract of the federation sub-stores (idempotency keys, trips, release
 * queue, peer-hold ledger), run against every Store implementation.
 */
import type { Test } from 'tap'
import type { Store, TripRecord } from '../../hub/store/index.js'

export interface FedStoreHarness {
  store: Store
  /** Another Store on the same database (SQLite: another connection), or the same one. */
  other: () => Store
  dispose(): Promise<void>
}

const T0 = Date.parse('2026-11-24T12:00:00Z')
const LEASE = 60_000

export function trip(over: Partial<TripRecord> = {}): TripRecord {
  return {
    tripId: 'trip-1',
    vehicleId: 'V1',
    routeId: 'rt_abc',
    txStartedAtMs: T0,
    attempt: 1,
    state: 'trying',
    legs: [
      { hop: 0, hubId: 'feira', holdId: 'h0', atMs: T0 + 3_600_000, stationId: null, position: null, expiresAtMs: null, reservationId: null },
      { hop: 1, hubId: 'salvador', holdId: 'h1', atMs: T0 + 7_200_000, stationId: null, position: null, expiresAtMs: null, reservationId: null },
    ],
    failure: null,
    createdAtMs: T0,
    updatedAtMs: T0,
    ...over,
  }
}

export function federationStoreContract(tap: Test, name: string, open: () => Promise<FedStoreHarness>): void {
  const check = (rule: string, body: (t: Test, h: FedStoreHarness) => Promise<void>): void => {
    tap.test(`${name}: ${rule}`, async (t) => {
      const h = await open()
      t.teardown(() => h.dispose())
      await body(t, h)
    })
  }
  // Each claim's owner is its own (one token per run), unless given: 'o1' by default, so a test's completes name it.
  const claim = (store: Store, key: string, fingerprint = 'fp-1', nowMs = T0, scope = 'salvador', owner = 'o1') =>
    store.idempotency.claim({ scope, key, fingerprint, nowMs, leaseMs: LEASE, owner })

  check('the first claim of a key wins; a second one while it runs is in progress', async (t, { store }) => {
    t.same(await claim(store, 'k1'), { state: 'claimed', firstClaimedAtMs: T0 })
    t.same(await claim(store, 'k1'), { state: 'in_progress' })
  })

  check('after completion the same key and fingerprint get the stored answer', async (t, { store }) => {
    await claim(store, 'k1')
    await store.idempotency.complete({ scope: 'salvador', key: 'k1', owner: 'o1', status: 201, body: '{"holdId":"h1"}', nowMs: T0 })
    t.same(await claim(store, 'k1'), { state: 'done', status: 201, body: '{"holdId":"h1"}' })
    await claim(store, 'k2')
    await store.idempotency.complete({ scope: 'salvador', key: 'k2', owner: 'o1', status: 204, body: null, nowMs: T0 })
    t.same(await claim(store, 'k2'), { state: 'done', status: 204, body: null }, 'an empty body stays empty')
  })

  check('the same key with another fingerprint is a mismatch, running or done', async (t, { store }) => {
    await claim(store, 'k1')
    t.same(await claim(store, 'k1', 'fp-2'), { state: 'mismatch' })
    await store.idempotency.complete({ scope: 'salvador', key: 'k1', owner: 'o1', status: 200, body: '{}', nowMs: T0 })
    t.same(await claim(store, 'k1', 'fp-2'), { state: 'mismatch' })
  })

  check('keys are scoped: two peers may use one key', async (t, { store }) => {
    t.same(await claim(store, 'k1', 'fp-1', T0, 'salvador'), { state: 'claimed', firstClaimedAtMs: T0 })
    t.same(await claim(store, 'k1', 'fp-9', T0, 'ilheus'), { state: 'claimed', firstClaimedAtMs: T0 })
  })

  check('a running claim whose lease ran out can be claimed again; an abandoned one at once, by the same request only', async (t, { store }) => {
    await claim(store, 'k1')
    t.same(await claim(store, 'k1', 'fp-1', T0 + LEASE - 1), { state: 'in_progress' })
    t.same(await claim(store, 'k1', 'fp-1', T0 + LEASE), { state: 'claimed', firstClaimedAtMs: T0 })
    await claim(store, 'k2')
    await store.idempotency.abandon({ scope: 'salvador', key: 'k2', owner: 'o1' })
    t.same(await claim(store, 'k2', 'fp-other', T0 + 1, 'salvador', 'o2'), { state: 'mismatch' }, 'abandoned: the key reused for another request is still refused')
    t.same(await claim(store, 'k2', 'fp-1', T0 + 1, 'salvador', 'o2'), { state: 'claimed', firstClaimedAtMs: T0 }, 'the same request takes it at once')
  })

  check('rule renewDecision: a renewed claim stays in progress past its first lease; a done or abandoned key is not renewed', async (t, { store }) => {
    const renew = (key: string, nowMs: number, owner = 'o1') => store.idempotency.renew({ scope: 'salvador', key, owner, nowMs, leaseMs: LEASE })
    await claim(store, 'k1')
    t.equal(await renew('k1', T0 + LEASE - 1), true, 'running: renewed')
    t.same(await claim(store, 'k1', 'fp-1', T0 + LEASE), { state: 'in_progress' }, 'past the first lease, still exclusive')
    t.same(await claim(store, 'k1', 'fp-1', T0 + 2 * LEASE - 2), { state: 'in_progress' }, 'until a lease after the renewal')
    t.same(await claim(store, 'k1', 'fp-1', T0 + 2 * LEASE - 1, 'salvador', 'o2'), { state: 'claimed', firstClaimedAtMs: T0 }, 'not renewed again: it lapses')
    await store.idempotency.complete({ scope: 'salvador', key: 'k1', owner: 'o2', status: 201, body: '{}', nowMs: T0 + 2 * LEASE })
    t.equal(await renew('k1', T0 + 2 * LEASE + 1, 'o2'), false, 'done: not renewed')
    t.same(await claim(store, 'k1', 'fp-1', T0 + 2 * LEASE + 2), { state: 'done', status: 201, body: '{}' }, 'and still done')
    await claim(store, 'k2')
    await store.idempotency.abandon({ scope: 'salvador', key: 'k2', owner: 'o1' })
    t.equal(await renew('k2', T0 + 1), false, 'abandoned: not renewed')
    t.same(await claim(store, 'k2', 'fp-1', T0 + 2, 'salvador', 'o2'), { state: 'claimed', firstClaimedAtMs: T0 }, 'nor brought back: the next claim takes it')
    t.equal(await renew('never', T0), false, 'unseen: not renewed')
  })

  check('rule ownsRunning: renew, complete and abandon by a run whose claim lapsed and was taken do nothing and say so', async (t, { store }) => {
    const idem = store.idempotency
    const k = { scope: 'salvador', key: 'k' }
    await claim(store, 'k', 'fp-1', T0, 'salvador', 'o1')
    t.equal(await idem.renew({ ...k, owner: 'o1', nowMs: T0 + LEASE + 1, leaseMs: LEASE }), true, 'a lapsed claim nobody took is still its owner\'s to renew')
    t.same(await claim(store, 'k', 'fp-1', T0 + 2 * LEASE + 1, 'salvador', 'o2'), { state: 'claimed', firstClaimedAtMs: T0 }, 'lapsed: another run claims it, as its new owner')
    t.equal(await idem.renew({ ...k, owner: 'o1', nowMs: T0 + 2 * LEASE + 2, leaseMs: 10 * LEASE }), false, 'the old owner\'s renewal: refused')
    t.equal(await idem.complete({ ...k, owner: 'o1', status: 200, body: '{"late":true}', nowMs: T0 + 2 * LEASE + 2 }), false, 'its complete: not stored')
    t.equal(await idem.abandon({ ...k, owner: 'o1' }), false, 'its abandon: the claim stays')
    t.same(await claim(store, 'k', 'fp-1', T0 + 3 * LEASE, 'salvador', 'o3'), { state: 'in_progress' }, 'still the new owner\'s, within its own lease only (the old owner\'s renewal did nothing)')
    t.equal(await idem.renew({ ...k, owner: 'o2', nowMs: T0 + 3 * LEASE, leaseMs: LEASE }), true, 'the new owner renews')
    t.equal(await idem.complete({ ...k, owner: 'o2', status: 200, body: '{"n":2}', nowMs: T0 + 3 * LEASE + 1 }), true, 'and completes: stored')
    t.equal(await idem.complete({ ...k, owner: 'o1', status: 200, body: '{"late":true}', nowMs: T0 + 3 * LEASE + 2 }), false, 'a late complete after that: not stored')
    t.equal(await idem.complete({ ...k, owner: 'o2', status: 500, body: null, nowMs: T0 + 3 * LEASE + 2 }), false, 'nor a second one of its owner: a done answer is never replaced')
    t.equal(await idem.abandon({ ...k, owner: 'o1' }), false, 'a late abandon: done stays done')
    t.same(await claim(store, 'k', 'fp-1', T0 + 4 * LEASE, 'salvador', 'o4'), { state: 'done', status: 200, body: '{"n":2}' }, 'the one answer')
  })

  check('rule ownsRunning: a late abandon does not free the claim of the run that took the key over', async (t, { store }) => {
    const idem = store.idempotency
    const k = { scope: 'salvador', key: 'k' }
    await claim(store, 'k', 'fp-1', T0, 'salvador', 'o1')
    t.same(await claim(store, 'k', 'fp-1', T0 + LEASE, 'salvador', 'o2'), { state: 'claimed', firstClaimedAtMs: T0 })
    t.equal(await idem.abandon({ ...k, owner: 'o1' }), false, 'the old owner\'s abandon: refused')
    t.same(await claim(store, 'k', 'fp-1', T0 + LEASE + 1, 'salvador', 'o3'), { state: 'in_progress' }, 'the claim is still the new owner\'s')
    t.equal(await idem.abandon({ ...k, owner: 'o2' }), true, 'its owner abandons it')
    t.same(await claim(store, 'k', 'fp-1', T0 + LEASE + 2, 'salvador', 'o3'), { state: 'claimed', firstClaimedAtMs: T0 }, 'free at once')
    t.equal(await idem.abandon({ scope: 'salvador', key: 'never', owner: 'o1' }), false, 'an unseen key: nothing to abandon')
    t.equal(await idem.complete({ scope: 'salvador', key: 'never', owner: 'o1', status: 200, body: null, nowMs: T0 }), false, 'nor to complete')
  })

  check('answers are kept until deleteOlderThan removes them', async (t, { store }) => {
    await claim(store, 'old', 'fp', T0)
    await store.idempotency.complete({ scope: 'salvador', key: 'old', owner: 'o1', status: 204, body: null, nowMs: T0 })
    await claim(store, 'new', 'fp', T0 + 25 * 3_600_000)
    t.equal(await store.idempotency.deleteOlderThan(T0 + 1), 1)
    t.same(await claim(store, 'old', 'fp-x', T0 + 26 * 3_600_000), { state: 'claimed', firstClaimedAtMs: T0 + 26 * 3_600_000 })
    t.same(await claim(store, 'new', 'fp', T0 + 25 * 3_600_000 + 1), { state: 'in_progress' })
  })

  // One check per rule a store may keep in SQL (named as in hub/store/idempotency-rules.ts).

  check('rule claimDecision: same key and body answer the first answer, another body is refused, in flight is refused', async (t, { store }) => {
    t.same(await claim(store, 'k', 'body-a'), { state: 'claimed', firstClaimedAtMs: T0 })
    t.same(await claim(store, 'k', 'body-a', T0 + 1), { state: 'in_progress' }, 'in flight: refused')
    t.same(await claim(store, 'k', 'body-b', T0 + 1), { state: 'mismatch' }, 'in flight, other body: refused')
    await store.idempotency.complete({ scope: 'salvador', key: 'k', owner: 'o1', status: 201, body: '{"first":true}', nowMs: T0 + 2 })
    t.same(await claim(store, 'k', 'body-a', T0 + LEASE * 10), { state: 'done', status: 201, body: '{"first":true}' }, 'the first answer, long after its lease')
    t.same(await claim(store, 'k', 'body-b', T0 + LEASE * 10), { state: 'mismatch' })
    await store.idempotency.abandon({ scope: 'salvador', key: 'k', owner: 'o1' })
    t.same(await claim(store, 'k', 'body-a', T0 + LEASE * 10), { state: 'done', status: 201, body: '{"first":true}' }, 'abandon leaves a done key alone')
  })

  check('rule claimDecision: a reclaimed lapsed claim gets a fresh lease from its own nowMs', async (t, { store }) => {
    await claim(store, 'k')
    t.same(await claim(store, 'k', 'fp-1', T0 + LEASE + 5), { state: 'claimed', firstClaimedAtMs: T0 })
    t.same(await claim(store, 'k', 'fp-1', T0 + 2 * LEASE + 4), { state: 'in_progress' }, 'the new lease runs from the reclaim')
    t.same(await claim(store, 'k', 'fp-1', T0 + 2 * LEASE + 5), { state: 'claimed', firstClaimedAtMs: T0 })
  })

  check('rule claimDecision: a claim names when its key was first claimed, kept when a lapsed claim is taken over or the key was abandoned', async (t, { store }) => {
    t.same(await claim(store, 'k', 'fp-1', T0, 'salvador', 'o1'), { state: 'claimed', firstClaimedAtMs: T0 })
    t.same(await claim(store, 'k', 'fp-1', T0 + LEASE, 'salvador', 'o2'), { state: 'claimed', firstClaimedAtMs: T0 }, 'taken over: the first claim\'s time')
    t.same(await claim(store, 'k', 'fp-1', T0 + 3 * LEASE, 'salvador', 'o3'), { state: 'claimed', firstClaimedAtMs: T0 }, 'taken over again: still the first')
    await store.idempotency.abandon({ scope: 'salvador', key: 'k', owner: 'o3' })
    t.same(await claim(store, 'k', 'fp-1', T0 + 3 * LEASE + 1, 'salvador', 'o4'), { state: 'claimed', firstClaimedAtMs: T0 }, 'abandoned: still the first (the key stays)')
  })

  check('rule: answers live 24 h: deleteOlderThan(now - 24 h) keeps a key created at the cutoff and forgets one 1 ms older', async (t, { store }) => {
    const DAY = 24 * 3_600_000
    await claim(store, 'older', 'fp', T0 - 1)
    await store.idempotency.complete({ scope: 'salvador', key: 'older', owner: 'o1', status: 200, body: '{}', nowMs: T0 })
    await claim(store, 'edge', 'fp', T0)
    await store.idempotency.complete({ scope: 'salvador', key: 'edge', owner: 'o1', status: 200, body: '{}', nowMs: T0 })
    t.same(await claim(store, 'older', 'fp', T0 + DAY - 1), { state: 'done', status: 200, body: '{}' }, 'still answered a day later until housekeeping runs')
    t.equal(await store.idempotency.deleteOlderThan(T0 + DAY - DAY), 1)
    t.same(await claim(store, 'older', 'fp-new', T0 + DAY), { state: 'claimed', firstClaimedAtMs: T0 + DAY }, 'the expired key is new again')
    t.same(await claim(store, 'edge', 'fp', T0 + DAY), { state: 'done', status: 200, body: '{}' })
  })

  check('concurrent claims of one key through two connections: exactly one wins', async (t, h) => {
    const a = h.store
    const b = h.other()
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => claim(i % 2 ? a : b, 'race')))
    t.equal(results.filter((r) => r.state === 'claimed').length, 1)
  })

  check('a trip is stored and read back whole; its id is unique', async (t, { store }) => {
    await store.trips.createTrip(trip())
    t.same(await store.trips.getTrip('trip-1'), trip())
    await t.rejects(store.trips.createTrip(trip()), { code: 'DUPLICATE_ID' }, 'a duplicate trip id is refused')
    t.equal(await store.trips.getTrip('nope'), null)
  })

  check('a vehicle\'s trips are listed newest first, whatever their state, up to the limit, and only its own', async (t, { store }) => {
    await store.trips.createTrip(trip({ tripId: 'a', createdAtMs: T0 }))
    await store.trips.createTrip(trip({ tripId: 'b', createdAtMs: T0 + 2, state: 'aborted' }))
    await store.trips.createTrip(trip({ tripId: 'c', createdAtMs: T0 + 1, state: 'confirmed' }))
    await store.trips.createTrip(trip({ tripId: 'd', vehicleId: 'V2', createdAtMs: T0 + 3 }))
    t.same((await store.trips.listVehicleTrips('V1', 10)).map((x) => x.tripId), ['b', 'c', 'a'])
    t.same((await store.trips.listVehicleTrips('V1', 2)).map((x) => x.tripId), ['b', 'c'])
    t.same(await store.trips.listVehicleTrips('V3', 10), [])
  })

  check('writes issued together settle one by one: a failing one rolls back alone', async (t, { store }) => {
    await store.trips.createTrip(trip())
    const [dup, fresh, claimed, tomb] = await Promise.allSettled([
      store.trips.createTrip(trip()),
      store.trips.createTrip(trip({ tripId: 'trip-2' })),
      claim(store, 'together'),
      store.trips.releasePeerHold({ holdId: 'hz', peerHubId: 'feira', nowMs: T0 }),
    ])
    t.match(dup, { status: 'rejected', reason: { code: 'DUPLICATE_ID' } })
    t.match(fresh, { status: 'fulfilled' })
    t.match(claimed, { status: 'fulfilled', value: { state: 'claimed' } })
    t.match(tomb, { status: 'fulfilled', value: null })
    t.ok(await store.trips.getTrip('trip-2'))
    t.match(await store.trips.getPeerHold('hz'), { state: 'released' })
  })

  check('saveTrip is a compare-and-set on the state and enqueues releases atomically', async (t, { store }) => {
    await store.trips.createTrip(trip())
    const release = {
      releaseId: 'rel-1', tripId: 'trip-1', hubId: 'salvador', kind: 'hold' as const, targetId: 'h1', vehicleId: 'V1',
      idempotencyKey: 'k', untilMs: T0 + 30_000, attempts: 0, nextAtMs: T0,
    }
    const wrong = await store.trips.saveTrip(trip({ state: 'aborted' }), { fromStates: ['confirming'], releases: [release] })
    t.equal(wrong, false)
    t.same(await store.trips.listReleases(), [], 'a refused save enqueues nothing')
    t.equal(await store.trips.saveTrip(trip({ state: 'aborted', failure: { failedHop: 1, reason: 'NO_STATION_AVAILABLE' } }), { fromStates: ['trying'], releases: [release] }), true)
    t.match(await store.trips.getTrip('trip-1'), { state: 'aborted', failure: { failedHop: 1, reason: 'NO_STATION_AVAILABLE' } })
    t.same(await store.trips.listReleases(), [release])
    t.same((await store.trips.listTrips(['aborted'])).map((x) => x.tripId), ['trip-1'])
    t.same(await store.trips.listTrips(['trying']), [])
  })

  check('releases are rescheduled, listed soonest first, and deleted', async (t, { store }) => {
    const base = { tripId: 't', hubId: 'h', kind: 'reservation' as const, targetId: 'r', vehicleId: 'V', idempotencyKey: 'k', untilMs: null, attempts: 0 }
    await store.trips.addReleases([{ ...base, releaseId: 'a', nextAtMs: 5 }, { ...base, releaseId: 'b', nextAtMs: 3 }])
    await store.trips.addReleases([{ ...base, releaseId: 'a', nextAtMs: 1 }])
    t.same((await store.trips.listReleases()).map((r) => [r.releaseId, r.nextAtMs]), [['b', 3], ['a', 5]], 'an existing release id is kept as it was')
    await store.trips.rescheduleRelease('b', 1, 10)
    t.same((await store.trips.listReleases()).map((r) => [r.releaseId, r.attempts, r.nextAtMs]), [['a', 0, 5], ['b', 1, 10]])
    await store.trips.deleteRelease('a')
    t.same((await store.trips.listReleases()).map((r) => r.releaseId), ['b'])
  })

  const placed = { txId: 'tx1', vehicleId: 'V1', stationId: 'S1', position: { lat: 1, lon: 2 }, atMs: T0 + 1, expiresAtMs: T0 + 30_000, nowMs: T0 }
  const record = (store: Store, holdId: string, peerHubId = 'feira', over: Partial<typeof placed> = {}) =>
    store.trips.recordPeerHold({ holdId, peerHubId, ...placed, ...over })

  check('a placed hold is recorded once, for one peer', async (t, { store }) => {
    t.equal(await record(store, 'h1'), null)
    t.match(await store.trips.getPeerHold('h1'), { state: 'placed', peerHubId: 'feira', stationId: 'S1', position: { lat: 1, lon: 2 }, expiresAtMs: T0 + 30_000, txId: 'tx1', vehicleId: 'V1' })
    t.match(await record(store, 'h1', 'ilheus'), { peerHubId: 'feira', state: 'placed' }, 'a second record changes nothing and tells what is there')
  })

  check('a release before the placement is recorded leaves a tombstone that wins', async (t, { store }) => {
    t.equal(await store.trips.releasePeerHold({ holdId: 'h1', peerHubId: 'feira', nowMs: T0 }), null)
    t.match(await record(store, 'h1'), { state: 'released', peerHubId: 'feira' })
    t.match(await store.trips.getPeerHold('h1'), { state: 'released', stationId: null })
  })

  check('a release of a placed hold marks it released; another peer cannot release it', async (t, { store }) => {
    await record(store, 'h1')
    t.equal(await store.trips.releasePeerHold({ holdId: 'h1', peerHubId: 'ilheus', nowMs: T0 }), 'foreign')
    t.match(await store.trips.getPeerHold('h1'), { state: 'placed' })
    t.match(await store.trips.releasePeerHold({ holdId: 'h1', peerHubId: 'feira', nowMs: T0 + 5 }), { state: 'placed' }, 'resolves the entry as it was')
    t.match(await store.trips.getPeerHold('h1'), { state: 'released', updatedAtMs: T0 + 5 })
  })

  check('a confirmed hold stays confirmed when released, and is kept while its slot is current', async (t, { store }) => {
    await record(store, 'h1', 'feira', { atMs: T0 + 10 * 86_400_000 })
    t.equal(await store.trips.peerHoldConfirmed({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 }), true)
    t.equal(await store.trips.peerHoldConfirmed({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 }), true, 'confirming again is fine')
    t.match(await store.trips.releasePeerHold({ holdId: 'h1', peerHubId: 'feira', nowMs: T0 }), { state: 'confirmed' })
    t.match(await store.trips.getPeerHold('h1'), { state: 'confirmed', reservationId: 'r-h1' })
    await store.trips.releasePeerHold({ holdId: 'gone', peerHubId: 'feira', nowMs: T0 })
    t.equal(await store.trips.deletePeerHoldsOlderThan(T0 + 2 * 86_400_000), 1, 'only the tombstone is old enough')
    t.equal(await store.trips.deletePeerHoldsOlderThan(T0 + 11 * 86_400_000), 1)
  })

  check('a cancelled reservation leaves its hold released, and a released hold is not confirmed', async (t, { store }) => {
    await record(store, 'h1')
    await store.trips.peerHoldConfirmed({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 })
    await store.trips.peerHoldCancelled({ holdId: 'h1', nowMs: T0 })
    t.match(await store.trips.getPeerHold('h1'), { state: 'released' })
    t.equal(await store.trips.peerHoldConfirmed({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 }), false)
    await store.trips.releasePeerHold({ holdId: 'h2', peerHubId: 'feira', nowMs: T0 })
    t.equal(await store.trips.peerHoldConfirmed({ holdId: 'h2', reservationId: 'r-h2', nowMs: T0 }), false, 'nor is a tombstone')
    t.equal(await store.trips.peerHoldConfirmed({ holdId: 'h3', reservationId: 'r-h3', nowMs: T0 }), false, 'nor an unknown id')
  })

  // The ledger transitions (hub/store/peer-hold-rules.ts), state by state, and its housekeeping rule.

  check('rule recordReleased / recordConfirmed / recordCancelled: every transition from every state', async (t, { store }) => {
    // placed -> released by its owner; released stays released and is not confirmed.
    await record(store, 'p')
    t.match(await store.trips.releasePeerHold({ holdId: 'p', peerHubId: 'feira', nowMs: T0 + 1 }), { state: 'placed' })
    t.match(await store.trips.releasePeerHold({ holdId: 'p', peerHubId: 'feira', nowMs: T0 + 2 }), { state: 'released', updatedAtMs: T0 + 1 }, 'a second release answers released and changes nothing')
    t.match(await store.trips.getPeerHold('p'), { state: 'released', updatedAtMs: T0 + 1, stationId: 'S1' })
    t.equal(await store.trips.peerHoldConfirmed({ holdId: 'p', reservationId: 'r', nowMs: T0 }), false)
    // a tombstone wins over a late placement, for every peer, and is kept as a tombstone.
    t.equal(await store.trips.releasePeerHold({ holdId: 't', peerHubId: 'feira', nowMs: T0 }), null)
    t.match(await record(store, 't', 'ilheus'), { state: 'released', peerHubId: 'feira' })
    t.equal(await store.trips.releasePeerHold({ holdId: 't', peerHubId: 'ilheus', nowMs: T0 }), 'foreign')
    t.same(await store.trips.getPeerHold('t'), {
      holdId: 't', peerHubId: 'feira', state: 'released', txId: null, vehicleId: null, stationId: null, position: null,
      atMs: null, expiresAtMs: null, reservationId: null, createdAtMs: T0, updatedAtMs: T0,
    })
    // confirmed -> confirmed (keeps its reservation on a release), -> released on cancel.
    await record(store, 'c')
    t.equal(await store.trips.peerHoldConfirmed({ holdId: 'c', reservationId: 'r-c', nowMs: T0 + 3 }), true)
    t.match(await store.trips.getPeerHold('c'), { state: 'confirmed', reservationId: 'r-c', updatedAtMs: T0 + 3, createdAtMs: T0 })
    t.equal(await store.trips.releasePeerHold({ holdId: 'c', peerHubId: 'ilheus', nowMs: T0 }), 'foreign')
    await store.trips.peerHoldCancelled({ holdId: 'c', nowMs: T0 + 4 })
    t.match(await store.trips.getPeerHold('c'), { state: 'released', reservationId: 'r-c', updatedAtMs: T0 + 4 })
    // a cancel of an unknown id writes nothing.
    await store.trips.peerHoldCancelled({ holdId: 'nobody', nowMs: T0 })
    t.equal(await store.trips.getPeerHold('nobody'), null)
  })

  check('rule isStalePeerHold: housekeeping deletes entries changed before the cutoff, a confirmed one only once its slot is older too', async (t, { store }) => {
    const C = T0 + 1000
    await store.trips.releasePeerHold({ holdId: 'tomb-old', peerHubId: 'feira', nowMs: C - 1 })
    await store.trips.releasePeerHold({ holdId: 'tomb-edge', peerHubId: 'feira', nowMs: C })
    await record(store, 'placed-old', 'feira', { nowMs: C - 1 })
    await record(store, 'conf-slot-edge', 'feira', { nowMs: C - 1, atMs: C })
    await store.trips.peerHoldConfirmed({ holdId: 'conf-slot-edge', reservationId: 'r1', nowMs: C - 1 })
    await record(store, 'conf-slot-old', 'feira', { nowMs: C - 1, atMs: C - 1 })
    await store.trips.peerHoldConfirmed({ holdId: 'conf-slot-old', reservationId: 'r2', nowMs: C - 1 })
    await record(store, 'conf-fresh', 'feira', { nowMs: C - 1, atMs: C - 1 })
    await store.trips.peerHoldConfirmed({ holdId: 'conf-fresh', reservationId: 'r3', nowMs: C })
    t.equal(await store.trips.deletePeerHoldsOlderThan(C), 3)
    const left = []
    for (const id of ['tomb-old', 'tomb-edge', 'placed-old', 'conf-slot-edge', 'conf-slot-old', 'conf-fresh']) if (await store.trips.getPeerHold(id)) left.push(id)
    t.same(left, ['tomb-edge', 'conf-slot-edge', 'conf-fresh'])
  })

  check('rule isLivePeerHold: a (peer, vehicle) counts placed holds until they expire and confirmed ones while their slot is current', async (t, { store }) => {
    const q = { vehicleId: 'V1', fromMs: T0, nowMs: T0 }
    await record(store, 'h1')
    await record(store, 'h2', 'feira', { atMs: T0 + 100 })
    await record(store, 'h3', 'ilheus')
    await record(store, 'h4', 'feira', { vehicleId: 'V2' })
    t.equal(await store.trips.countPeerVehicleHolds({ ...q, peerHubId: 'feira' }), 2)
    t.equal(await store.trips.countPeerVehicleHolds({ ...q, peerHubId: 'ilheus' }), 1)
    t.equal(await store.trips.countPeerVehicleHolds(q), 3, 'every peer when none is named')
    t.equal(await store.trips.countPeerVehicleHolds({ ...q, peerHubId: 'feira', nowMs: T0 + 30_000 }), 0, 'placed holds stop counting at expiresAtMs')
    t.equal(await store.trips.peerHoldConfirmed({ holdId: 'h2', reservationId: 'r-h2', nowMs: T0 }), true)
    t.equal(await store.trips.countPeerVehicleHolds({ ...q, peerHubId: 'feira', nowMs: T0 + 30_000, fromMs: T0 + 100 }), 1, 'a confirmed one counts while atMs >= fromMs')
    t.equal(await store.trips.countPeerVehicleHolds({ ...q, peerHubId: 'feira', nowMs: T0 + 30_000, fromMs: T0 + 101 }), 0)
    await store.trips.releasePeerHold({ holdId: 'h1', peerHubId: 'feira', nowMs: T0 })
    t.equal(await store.trips.countPeerVehicleHolds({ ...q, peerHubId: 'feira' }), 1, 'a released one does not count')
  })
}
