/**
 * Store.peerHolds on SQLite (hub/store/sqlite/peer-hold-writes.ts): a peer's
 * hold or confirm and its ledger entry in one write. Each test states what
 * the two calls one after the other (placeHold then recordPeerHold, confirmHold
 * then peerHoldConfirmed, with their undo) end with, and checks the one write
 * ends the same, or atomically not at all.
 */
import t from 'tap'
import type { Test } from 'tap'
import { KeyHeld, KeyedCall, type SqliteStore } from '../hub/store/index.js'
import { holdInput, station } from './helpers/store-contract.js'
import { tempSqlite } from './helpers/store-sqlite.js'

const MIN = 60_000
const T0 = Date.parse('2026-11-24T12:00:00Z')
const AT = T0 + 3 * 60 * MIN
const WINDOW = 120 * MIN
const S1 = station('S1')
const S2 = station('S2', -12.3, -38.9)

function open(t: Test): { store: SqliteStore; other: () => SqliteStore } {
  const tmp = tempSqlite()
  t.teardown(() => tmp.dispose())
  return { store: tmp.open(), other: () => tmp.open() }
}

/** What blocks S1 and S2 at AT, as a booking at T0 sees it (the booking index, if the store keeps one). */
async function blockers(store: SqliteStore, nowMs = T0): Promise<string[]> {
  const found = await store.reservations.findBookings({ stationIds: ['S1', 'S2'], atMs: AT, windowMs: WINDOW, nowMs })
  return found.map((b) => `${b.kind}:${b.id}@${b.stationId}`).sort()
}

t.test('a placed hold and its ledger entry are written together', async (t) => {
  const { store, other } = open(t)
  const out = await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1', candidates: [S1, S2] }), 'salvador')
  t.match(out, { ok: true, record: { holdId: 'h1', stationId: 'S1' } })
  // Another connection sees both: committed.
  const o = other()
  t.match(await o.reservations.getHold('h1'), { holdId: 'h1', stationId: 'S1', reservationId: null })
  t.match(await o.trips.getPeerHold('h1'), { holdId: 'h1', peerHubId: 'salvador', state: 'placed', stationId: 'S1', vehicleId: 'V9', atMs: AT, expiresAtMs: T0 + 30_000 })
  t.same(await blockers(store), ['hold:h1@S1'])
})

t.test('a tombstone (a release that came first) books nothing and is the answer', async (t) => {
  const { store } = open(t)
  await store.trips.releasePeerHold({ holdId: 'h1', peerHubId: 'salvador', nowMs: T0 })
  const out = await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'salvador')
  t.match(out, { ok: false, known: { holdId: 'h1', state: 'released' } })
  t.equal(await store.reservations.getHold('h1'), null, 'no hold row: the two calls would have placed it and released it again')
  t.same(await blockers(store), [])
  t.match(await store.trips.getPeerHold('h1'), { state: 'released', stationId: null }, 'the tombstone is unchanged')
})

t.test("another peer's id books nothing and is the answer", async (t) => {
  const { store } = open(t)
  t.match(await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'ilheus'), { ok: true })
  const out = await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1', candidates: [S2] }), 'salvador')
  t.match(out, { ok: false, known: { holdId: 'h1', peerHubId: 'ilheus', state: 'placed' } })
  t.same(await blockers(store), ['hold:h1@S1'])
})

t.test('every candidate booked: the conflicts, no ledger entry', async (t) => {
  const { store } = open(t)
  await store.reservations.createReservation({ reservationId: 'r1', vehicleId: 'V1', atMs: AT, candidates: [S1], windowMs: WINDOW, nowMs: T0 })
  const out = await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'salvador')
  t.match(out, { ok: false, conflicts: [{ kind: 'reservation', id: 'r1' }] })
  t.equal(await store.trips.getPeerHold('h1'), null)
})

t.test('a ledger write that fails takes the hold with it, and the booking index stays true to the file', async (t) => {
  const { store } = open(t)
  store.db.exec(`CREATE TRIGGER refuse_ledger BEFORE INSERT ON peer_holds BEGIN SELECT RAISE(ABORT, 'ledger refused'); END`)
  await t.rejects(store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'salvador'))
  t.equal(await store.reservations.getHold('h1'), null)
  t.same(await blockers(store), [], 'the index forgot the hold it had added')
  store.db.exec('DROP TRIGGER refuse_ledger')
  t.match(await store.peerHolds.placePeerHold(holdInput({ holdId: 'h2' }), 'salvador'), { ok: true, record: { stationId: 'S1' } }, 'the station is free')
})

t.test('a confirm writes the reservation and the confirmed ledger entry together; repeated, the same', async (t) => {
  const { store, other } = open(t)
  await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'salvador')
  const first = await store.peerHolds.confirmPeerHold({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 + 1000 }, 'salvador')
  t.match(first, { status: 'confirmed', reservation: { reservationId: 'r-h1', stationId: 'S1', holdId: 'h1' } })
  const o = other()
  t.match(await o.reservations.getReservation('r-h1'), { reservationId: 'r-h1', stationId: 'S1' })
  t.match(await o.trips.getPeerHold('h1'), { state: 'confirmed', reservationId: 'r-h1', updatedAtMs: T0 + 1000 })
  t.same(await blockers(store, T0 + 1000), ['reservation:r-h1@S1'])
  t.same(await store.peerHolds.confirmPeerHold({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 + 2000 }, 'salvador'), first)
  t.match(await o.trips.getPeerHold('h1'), { state: 'confirmed', updatedAtMs: T0 + 2000 })
})

t.test('a confirm after the release confirms nothing', async (t) => {
  const { store } = open(t)
  await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'salvador')
  await store.trips.releasePeerHold({ holdId: 'h1', peerHubId: 'salvador', nowMs: T0 + 500 })
  t.same(await store.peerHolds.confirmPeerHold({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 + 1000 }, 'salvador'), { status: 'released' })
  t.equal(await store.reservations.getReservation('r-h1'), null, 'the two calls would have made it and cancelled it again')
  t.match(await store.trips.getPeerHold('h1'), { state: 'released' })
})

t.test('a confirm of an id the ledger does not know, or knows as another peer\'s, is unknown and writes nothing', async (t) => {
  const { store } = open(t)
  await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'salvador')
  t.same(await store.peerHolds.confirmPeerHold({ holdId: 'nobody', reservationId: 'r-x', nowMs: T0 + 1000 }, 'salvador'), { status: 'unknown' })
  t.same(await store.peerHolds.confirmPeerHold({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 + 1000 }, 'ilheus'), { status: 'unknown' }, "salvador's hold, asked by ilheus")
  t.equal(await store.reservations.getReservation('r-h1'), null)
  t.match(await store.trips.getPeerHold('h1'), { state: 'placed', peerHubId: 'salvador' })
})

t.test("a peer vehicle's limit is counted over that peer's live ledger entries in the hold's own write", async (t) => {
  const { store } = open(t)
  const limit = { max: 2, fromMs: T0 - WINDOW }
  // Salvador's V1 has two live entries: a placed hold and a confirmed one. Ilheus's V1 and this hub's V1 are others.
  t.match(await store.peerHolds.placePeerHold(holdInput({ holdId: 'a', limit }), 'salvador'), { ok: true })
  t.match(await store.peerHolds.placePeerHold(holdInput({ holdId: 'b', atMs: AT + 4 * WINDOW, limit }), 'salvador'), { ok: true })
  t.match(await store.peerHolds.confirmPeerHold({ holdId: 'b', reservationId: 'r-b', nowMs: T0 + 1000 }, 'salvador'), { status: 'confirmed' })
  t.match(await store.peerHolds.placePeerHold(holdInput({ holdId: 'c', atMs: AT + 8 * WINDOW, limit }), 'ilheus'), { ok: true }, "ilheus's V1 counts apart")
  const before = await store.reservations.counts(T0)
  t.same(await store.peerHolds.placePeerHold(holdInput({ holdId: 'd', atMs: AT + 12 * WINDOW, limit }), 'salvador'), { ok: false, conflicts: [], overLimit: 2 })
  t.equal(await store.trips.getPeerHold('d'), null, 'no ledger entry')
  t.same(await store.reservations.counts(T0), before, 'nothing booked')
  t.match(await store.peerHolds.placePeerHold(holdInput({ holdId: 'd', atMs: AT + 12 * WINDOW, limit }), 'salvador', undefined), { ok: false, overLimit: 2 }, 'asked again, the same')
  // Hold a expires (a placed entry is live until its TTL): a place is free again.
  const later = { nowMs: T0 + 60_000, expiresAtMs: T0 + 90_000 }
  t.match(await store.peerHolds.placePeerHold(holdInput({ holdId: 'e', atMs: AT + 16 * WINDOW, limit, ...later }), 'salvador'), { ok: true })
})

t.test('an expired hold is not confirmed and its ledger entry stays placed (the caller re-books)', async (t) => {
  const { store } = open(t)
  await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'salvador')
  const out = await store.peerHolds.confirmPeerHold({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 + 60_000 }, 'salvador')
  t.match(out, { status: 'expired', hold: { holdId: 'h1' } })
  t.match(await store.trips.getPeerHold('h1'), { state: 'placed', reservationId: null })
  t.equal(await store.reservations.getReservation('r-h1'), null)
})

t.test('a ledger update that fails takes the reservation with it, and the booking index stays true to the file', async (t) => {
  const { store } = open(t)
  await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'salvador')
  store.db.exec(`CREATE TRIGGER refuse_ledger BEFORE UPDATE ON peer_holds BEGIN SELECT RAISE(ABORT, 'ledger refused'); END`)
  await t.rejects(store.peerHolds.confirmPeerHold({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 + 1000 }, 'salvador'))
  t.equal(await store.reservations.getReservation('r-h1'), null)
  t.match(await store.reservations.getHold('h1'), { reservationId: null })
  t.same(await blockers(store, T0 + 1000), ['hold:h1@S1'], 'the hold blocks again, not a reservation that was never committed')
  store.db.exec('DROP TRIGGER refuse_ledger')
  t.match(await store.peerHolds.confirmPeerHold({ holdId: 'h1', reservationId: 'r-h1', nowMs: T0 + 1000 }, 'salvador'), { status: 'confirmed' })
})

t.test('a hold whose write fails after its booking blocks nothing, not even for a booking in the same group commit', async (t) => {
  const { store } = open(t)
  store.db.exec(`CREATE TRIGGER refuse_ledger BEFORE INSERT ON peer_holds WHEN NEW.hold_id = 'ph' BEGIN SELECT RAISE(ABORT, 'ledger refused'); END`)
  // Asked in one turn: one group commit, the failing hold first.
  const failing = store.peerHolds.placePeerHold(holdInput({ holdId: 'ph', txId: 'tx-old', txStartedAtMs: T0 - 60_000 }), 'salvador')
  const next = store.peerHolds.placePeerHold(holdInput({ holdId: 'h2', vehicleId: 'V2', txId: 'tx-young', txStartedAtMs: T0 - 1000 }), 'feira')
  await t.rejects(failing)
  t.match(await next, { ok: true, record: { holdId: 'h2', stationId: 'S1' } }, 'S1 was free in the database: h2 books it')
})

t.test("a keyed hold whose answer cannot be stored blocks nothing for a booking in the same group commit, and claims nothing", async (t) => {
  const { store } = open(t)
  store.db.exec(`CREATE TRIGGER refuse_answer BEFORE UPDATE ON idempotency_keys BEGIN SELECT RAISE(ABORT, 'answer refused'); END`)
  const call = new KeyedCall({ scope: 'salvador', key: 'k', fingerprint: 'f', nowMs: T0, leaseMs: 120_000, owner: 'o1' })
  const failing = store.peerHolds.placePeerHold(holdInput({ holdId: 'ph', txId: 'tx-old', txStartedAtMs: T0 - 60_000 }), 'salvador', { call, status: 201, body: () => '{}' })
  const next = store.reservations.placeHold(holdInput({ holdId: 'h2', vehicleId: 'V2', txId: 'tx-young', txStartedAtMs: T0 - 1000 }))
  await t.rejects(failing)
  t.match(await next, { ok: true, record: { holdId: 'h2', stationId: 'S1' } })
  t.equal(call.claim, null, 'the claim rolled back with the write')
  t.same(store.db.prepare('SELECT COUNT(*) AS n FROM idempotency_keys').get(), { n: 0 })
})

t.test('a keyed write claims first; a key held elsewhere books nothing; a later write checks the claim is still its own', async (t) => {
  const { store } = open(t)
  const claimInput = { scope: 'salvador', key: 'k', fingerprint: 'f', nowMs: T0, leaseMs: 120_000, owner: 'o1' }
  const mine = new KeyedCall(claimInput)
  await store.reservations.createReservation({ reservationId: 'r1', vehicleId: 'V1', atMs: AT, candidates: [S1], windowMs: WINDOW, nowMs: T0 })
  const first = await store.peerHolds.placePeerHold(holdInput({ holdId: 'h1' }), 'salvador', { call: mine, status: 201, body: () => '{"h":1}' })
  t.match(first, { ok: false, conflicts: [{ id: 'r1' }] }, 'S1 is booked: nothing placed')
  t.same(mine.claim, { state: 'claimed', firstClaimedAtMs: T0 }, 'but the key is claimed, in that write')
  // Another run with the key while this one runs: refused in its write, nothing booked.
  const theirs = new KeyedCall({ ...claimInput, owner: 'o2' })
  await t.rejects(store.peerHolds.placePeerHold(holdInput({ holdId: 'h1', candidates: [S2] }), 'salvador', { call: theirs, status: 201, body: () => '{}' }), KeyHeld)
  t.same(theirs.claim, { state: 'in_progress' })
  t.equal(await store.reservations.getHold('h1'), null)
  // The claim lapses and the other run takes the key over and answers: this run's next write books nothing.
  // (The claim's time is its write's: the booking's `nowMs`.)
  const taker = new KeyedCall({ ...claimInput, owner: 'o2' })
  const later = { nowMs: T0 + 121_000, expiresAtMs: T0 + 151_000 }
  t.match(await store.peerHolds.placePeerHold(holdInput({ holdId: 'hx', vehicleId: 'V2', candidates: [S1], ...later }), 'salvador', { call: taker, status: 201, body: () => '{}' }), { ok: false })
  t.same(taker.claim, { state: 'claimed', firstClaimedAtMs: T0 })
  await store.idempotency.complete({ scope: 'salvador', key: 'k', owner: 'o2', status: 409, body: '{"taken":1}', nowMs: T0 + 121_000 })
  await t.rejects(store.peerHolds.placePeerHold(holdInput({ holdId: 'h1', candidates: [S2] }), 'salvador', { call: mine, status: 201, body: () => '{"h":1}' }), KeyHeld)
  t.same(mine.claim, { state: 'done', status: 409, body: '{"taken":1}' })
  t.equal(await store.reservations.getHold('h1'), null, 'no hold behind the answer the key holds')
  t.equal(await store.trips.getPeerHold('h1'), null)
})
