/**
 * Contract of the roaming part of the charging sub-store (hub/store/charging.ts,
 * RoamingSessionRecord): the sessions of this hub's vehicles at peers, their
 * durable stop queue and the peers' receipts, run against every Store
 * implementation (test/store-roaming.test.ts).
 */
import type { Test } from 'tap'
import { StoreError, type NewRoamingSession, type Store } from '../../hub/store/index.js'
import type { Receipt } from '../../protocol/index.js'
import type { FedStoreHarness } from './federation-store-contract.js'

const T0 = Date.parse('2026-12-01T09:00:00Z')

export const roamingSession = (over: Partial<NewRoamingSession> = {}): NewRoamingSession => ({
  sessionId: 'rs-1',
  hubId: 'feira',
  vehicleId: 'V1',
  stationId: 'FS-1',
  startedAtMs: T0,
  meterStartWh: 120_000,
  ...over,
})

export const peerReceipt = (sessionId: string, endedAtMs: number, over: Partial<Receipt> = {}): Receipt => ({
  sessionId,
  stationId: 'FS-1',
  hubId: 'feira',
  vehicleId: 'V1',
  startedAt: new Date(T0).toISOString(),
  endedAt: new Date(endedAtMs).toISOString(),
  energyWh: 7_250,
  priceMinorPerKwh: 89,
  costMinor: 645,
  currency: 'BRL',
  ...over,
})

export function roamingStoreContract(tap: Test, name: string, open: () => Promise<FedStoreHarness>): void {
  const check = (rule: string, body: (t: Test, h: FedStoreHarness) => Promise<void>): void => {
    tap.test(`${name} roaming: ${rule}`, async (t) => {
      const h = await open()
      t.teardown(() => h.dispose())
      await body(t, h)
    })
  }
  const add = (s: Store, over: Partial<NewRoamingSession> = {}) => s.charging.addRoamingSession(roamingSession(over))

  check('a new session is open, with no stop tried and no receipt; an unknown id reads null', async (t, { store }) => {
    await add(store)
    t.same(await store.charging.getRoamingSession('rs-1'), {
      ...roamingSession(),
      state: 'open',
      stopAttempts: 0,
      nextStopAtMs: null,
      receipt: null,
      failReason: null,
    })
    t.equal(await store.charging.getRoamingSession('nope'), null)
  })

  check('a session id is added once: a second add rejects with DUPLICATE_ID and changes nothing', async (t, { store }) => {
    await add(store)
    const err = await add(store, { hubId: 'salvador', vehicleId: 'V2' }).then(() => null, (e: unknown) => e)
    t.ok(err instanceof StoreError, 'a StoreError')
    t.equal((err as StoreError | null)?.code, 'DUPLICATE_ID')
    t.match(await store.charging.getRoamingSession('rs-1'), { hubId: 'feira', vehicleId: 'V1', state: 'open' })
  })

  check('rule isUnsettledRoaming: an open or stopping session is queued for a stop with its attempts and next try', async (t, { store }) => {
    await add(store)
    t.equal(await store.charging.queueRoamingStop('rs-1', 1, T0 + 200), true)
    t.match(await store.charging.getRoamingSession('rs-1'), { state: 'stopping', stopAttempts: 1, nextStopAtMs: T0 + 200 })
    t.equal(await store.charging.queueRoamingStop('rs-1', 2, T0 + 600), true, 'a queued stop is queued again after another failed try')
    t.match(await store.charging.getRoamingSession('rs-1'), { state: 'stopping', stopAttempts: 2, nextStopAtMs: T0 + 600 })
    t.equal(await store.charging.queueRoamingStop('nope', 1, T0), false, 'an unknown session is not queued')
  })

  check('rule isUnsettledRoaming: a settled session never goes back to the stop queue', async (t, { store }) => {
    await add(store, { sessionId: 'done' })
    await add(store, { sessionId: 'refused' })
    await store.charging.settleRoamingSession('done', { receipt: peerReceipt('done', T0 + 3_600_000) })
    await store.charging.settleRoamingSession('refused', { failReason: 'SESSION_UNKNOWN' })
    t.equal(await store.charging.queueRoamingStop('done', 3, T0 + 1), false)
    t.equal(await store.charging.queueRoamingStop('refused', 3, T0 + 1), false)
    t.match(await store.charging.getRoamingSession('done'), { state: 'stopped', stopAttempts: 0, nextStopAtMs: null })
    t.match(await store.charging.getRoamingSession('refused'), { state: 'failed', stopAttempts: 0, nextStopAtMs: null })
    t.same(await store.charging.roamingStops(), [])
  })

  check('roamingStops lists only stopping sessions, soonest next try first (then by id), and survives a second connection', async (t, { store, other }) => {
    await add(store, { sessionId: 'open-only' })
    for (const [id, at] of [['b', T0 + 500], ['c', T0 + 100], ['a', T0 + 500]] as const) {
      await add(store, { sessionId: id })
      await store.charging.queueRoamingStop(id, 1, at)
    }
    await add(store, { sessionId: 'settled' })
    await store.charging.queueRoamingStop('settled', 1, T0)
    await store.charging.settleRoamingSession('settled', { receipt: peerReceipt('settled', T0 + 60_000) })
    const ids = (s: Store) => s.charging.roamingStops().then((rs) => rs.map((r) => [r.sessionId, r.state, r.stopAttempts, r.nextStopAtMs]))
    const want = [['c', 'stopping', 1, T0 + 100], ['a', 'stopping', 1, T0 + 500], ['b', 'stopping', 1, T0 + 500]]
    t.same(await ids(store), want)
    t.same(await ids(other()), want, 'what a restarted hub (another connection) reads')
  })

  check('rule isUnsettledRoaming: the first settlement wins; its receipt is kept exactly and the next try is cleared', async (t, { store }) => {
    await add(store)
    await store.charging.queueRoamingStop('rs-1', 4, T0 + 9_000)
    const receipt = peerReceipt('rs-1', T0 + 3_600_000)
    await store.charging.settleRoamingSession('rs-1', { receipt })
    await store.charging.settleRoamingSession('rs-1', { receipt: { ...receipt, costMinor: 1, energyWh: 1 } })
    await store.charging.settleRoamingSession('rs-1', { failReason: 'LATE' })
    t.same(await store.charging.getRoamingSession('rs-1'), {
      ...roamingSession(),
      state: 'stopped',
      stopAttempts: 4,
      nextStopAtMs: null,
      receipt,
      failReason: null,
    })
  })

  check('a failed settlement keeps its reason, has no receipt and lists none', async (t, { store }) => {
    await add(store)
    await store.charging.settleRoamingSession('rs-1', { failReason: 'SESSION_UNKNOWN' })
    await store.charging.settleRoamingSession('rs-1', { receipt: peerReceipt('rs-1', T0 + 1) })
    t.match(await store.charging.getRoamingSession('rs-1'), { state: 'failed', receipt: null, failReason: 'SESSION_UNKNOWN' })
    t.same(await store.charging.listRoamingReceipts('V1', 10), [])
    await store.charging.settleRoamingSession('nope', { failReason: 'X' })
    t.equal(await store.charging.getRoamingSession('nope'), null, 'settling an unknown session creates nothing')
  })

  check('listRoamingReceipts: only the vehicle\'s settled receipts, newest end first (then by id), at most limit', async (t, { store }) => {
    const ends: Array<[string, string, number]> = [
      ['r-old', 'V1', T0 + 1_000],
      ['r-new', 'V1', T0 + 9_000],
      ['r-tie-b', 'V1', T0 + 5_000],
      ['r-tie-a', 'V1', T0 + 5_000],
      ['r-other', 'V2', T0 + 99_000],
    ]
    for (const [id, vehicleId, end] of ends) {
      await add(store, { sessionId: id, vehicleId })
      await store.charging.settleRoamingSession(id, { receipt: peerReceipt(id, end, { vehicleId }) })
    }
    await add(store, { sessionId: 'r-open' })
    await add(store, { sessionId: 'r-stopping' })
    await store.charging.queueRoamingStop('r-stopping', 1, T0)
    t.same((await store.charging.listRoamingReceipts('V1', 10)).map((r) => r.sessionId), ['r-new', 'r-tie-a', 'r-tie-b', 'r-old'])
    t.same((await store.charging.listRoamingReceipts('V1', 2)).map((r) => r.sessionId), ['r-new', 'r-tie-a'])
    t.same(await store.charging.listRoamingReceipts('V1', 1), [peerReceipt('r-new', T0 + 9_000)], 'the receipt as the peer sent it')
    t.same(await store.charging.listRoamingReceipts('V3', 10), [])
  })

  check('listRoamingReceipts clamps its limit like every list (1..MAX_LIST_LIMIT)', async (t, { store }) => {
    for (const id of ['a', 'b']) {
      await add(store, { sessionId: id })
      await store.charging.settleRoamingSession(id, { receipt: peerReceipt(id, T0 + (id === 'a' ? 2 : 1)) })
    }
    t.same((await store.charging.listRoamingReceipts('V1', 0)).map((r) => r.sessionId), ['a'])
    t.same((await store.charging.listRoamingReceipts('V1', -1)).map((r) => r.sessionId), ['a'])
    t.same((await store.charging.listRoamingReceipts('V1', 1.5)).map((r) => r.sessionId), ['a'])
  })

  check('a record read is a copy: changing it changes nothing stored', async (t, { store }) => {
    await add(store)
    await store.charging.settleRoamingSession('rs-1', { receipt: peerReceipt('rs-1', T0 + 10) })
    const read = await store.charging.getRoamingSession('rs-1')
    if (read?.receipt) read.receipt.costMinor = 1
    const [listed] = await store.charging.listRoamingReceipts('V1', 1)
    if (listed) listed.energyWh = 1
    t.same((await store.charging.getRoamingSession('rs-1'))?.receipt, peerReceipt('rs-1', T0 + 10))
  })

  check('of a stop answer and a stop queued at once on one database, the settlement stays settled', async (t, h) => {
    const stores = [h.store, h.other()]
    for (let i = 0; i < 8; i++) {
      const id = `race-${i}`
      await add(h.store, { sessionId: id })
      const receipt = peerReceipt(id, T0 + 60_000)
      await Promise.all([
        (stores[i % 2] as Store).charging.settleRoamingSession(id, { receipt }),
        (stores[(i + 1) % 2] as Store).charging.queueRoamingStop(id, 1, T0 + 1_000),
      ])
      t.match(await h.store.charging.getRoamingSession(id), { state: 'stopped', nextStopAtMs: null, receipt }, id)
    }
    t.same(await h.store.charging.roamingStops(), [])
  })

  check('of concurrent settlements on one database exactly one is kept', async (t, h) => {
    const stores = [h.store, h.other(), h.other()]
    await add(h.store)
    await Promise.all(
      Array.from({ length: 9 }, (_, i) => {
        const s = stores[i % 3] as Store
        return i % 2 === 0
          ? s.charging.settleRoamingSession('rs-1', { receipt: peerReceipt('rs-1', T0 + 1_000 * (i + 1), { costMinor: i }) })
          : s.charging.settleRoamingSession('rs-1', { failReason: `F${i}` })
      }),
    )
    const r = await h.store.charging.getRoamingSession('rs-1')
    t.ok(r && ((r.state === 'stopped' && r.receipt !== null && r.failReason === null) || (r.state === 'failed' && r.receipt === null && r.failReason !== null)), `one outcome: ${JSON.stringify(r)}`)
    const listed = await h.store.charging.listRoamingReceipts('V1', 10)
    t.same(listed, r?.receipt ? [r.receipt] : [], 'listed once, as stored')
  })
}
