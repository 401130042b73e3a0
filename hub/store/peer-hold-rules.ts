/**
 * The transitions of the peer-hold ledger (./trips.ts, TripStore), in one
 * place for every TripStore. Each takes the entry as stored (null: unknown
 * id) and returns what the store method answers and the entry to write
 * (null: write nothing); the store reads, decides and writes in one
 * transaction.
 *
 *     (unknown) --record--> placed --confirm--> confirmed
 *     (unknown) --release-> released (tombstone: a later record is refused)
 *     placed --release--> released;  any --cancelled--> released
 */
import type { PeerHoldRecord, PeerHoldState, RecordPeerHoldInput } from './trips.js'

export interface PeerHoldStep<A> {
  answer: A
  next: PeerHoldRecord | null
}

/**
 * A ledger entry that counts against its (peer, vehicle) booking limit: a
 * `placed` hold not expired at `nowMs`, or a `confirmed` one whose reservation
 * has not passed (`atMs >= fromMs`). In SQL: `(state = 'placed' AND
 * expires_at_ms > nowMs) OR (state = 'confirmed' AND at_ms >= fromMs)`.
 */
export function isLivePeerHold(e: Pick<PeerHoldRecord, 'state' | 'atMs' | 'expiresAtMs'>, q: { fromMs: number; nowMs: number }): boolean {
  if (e.state === 'placed') return e.expiresAtMs !== null && e.expiresAtMs > q.nowMs
  return e.state === 'confirmed' && e.atMs !== null && e.atMs >= q.fromMs
}

/**
 * The one time of a ledger entry isLivePeerHold compares, as a count by time
 * keeps it (../vehicle-booking-index.ts): a `confirmed` entry counts while
 * `atMs >= fromMs`, as a reservation does; a `placed` one while `expiresAtMs >
 * nowMs`, as an unconfirmed hold does. Null for an entry that never counts
 * again (released, placing, or without that time).
 */
export function peerHoldCountEntry(e: Pick<PeerHoldRecord, 'holdId' | 'state' | 'atMs' | 'expiresAtMs'>): { id: string; kind: 'reservation' | 'hold'; t: number } | null {
  if (e.state === 'placed') return e.expiresAtMs === null ? null : { id: e.holdId, kind: 'hold', t: e.expiresAtMs }
  if (e.state === 'confirmed') return e.atMs === null ? null : { id: e.holdId, kind: 'reservation', t: e.atMs }
  return null
}

/** States a confirmation may move to `confirmed` (again, for a repeated confirm). */
export const CONFIRMABLE_PEER_HOLD_STATES: readonly PeerHoldState[] = ['placed', 'confirmed']
/** States a release by the owning peer moves to `released`. */
export const RELEASABLE_PEER_HOLD_STATES: readonly PeerHoldState[] = ['placing', 'placed']

/** `recordPeerHold`: an unknown id becomes `placed`; a known one (a tombstone, another peer's) is answered unchanged. */
export function recordPlaced(cur: PeerHoldRecord | null, input: RecordPeerHoldInput): PeerHoldStep<PeerHoldRecord | null> {
  if (cur) return { answer: cur, next: null }
  return {
    answer: null,
    next: {
      holdId: input.holdId,
      peerHubId: input.peerHubId,
      state: 'placed',
      txId: input.txId,
      vehicleId: input.vehicleId,
      stationId: input.stationId,
      position: { lat: input.position.lat, lon: input.position.lon },
      atMs: input.atMs,
      expiresAtMs: input.expiresAtMs,
      reservationId: null,
      createdAtMs: input.nowMs,
      updatedAtMs: input.nowMs,
    },
  }
}

/** `peerHoldCancelled`: whatever its state, a known entry becomes `released`, so no later confirm re-books it. */
export function recordCancelled(cur: PeerHoldRecord | null, nowMs: number): PeerHoldStep<void> {
  return { answer: undefined, next: cur ? { ...cur, state: 'released', updatedAtMs: nowMs } : null }
}

/** `peerHoldConfirmed`: `placed` or `confirmed` becomes `confirmed` by `reservationId` (true); anything else is refused (false). */
export function recordConfirmed(cur: PeerHoldRecord | null, reservationId: string, nowMs: number): PeerHoldStep<boolean> {
  if (!cur || !CONFIRMABLE_PEER_HOLD_STATES.includes(cur.state)) return { answer: false, next: null }
  return { answer: true, next: { ...cur, state: 'confirmed', reservationId, updatedAtMs: nowMs } }
}

/**
 * `releasePeerHold` by `peerHubId`: an unknown id gets a `released`
 * tombstone owned by that peer (answer null); another peer's entry is
 * `foreign` and unchanged; the owner's `placing`/`placed` entry becomes
 * `released`; a confirmed or released one stays. The answer is the entry as it was.
 */
export function recordReleased(
  cur: PeerHoldRecord | null,
  input: { holdId: string; peerHubId: string; nowMs: number },
): PeerHoldStep<PeerHoldRecord | null | 'foreign'> {
  if (!cur) {
    return {
      answer: null,
      next: {
        holdId: input.holdId,
        peerHubId: input.peerHubId,
        state: 'released',
        txId: null,
        vehicleId: null,
        stationId: null,
        position: null,
        atMs: null,
        expiresAtMs: null,
        reservationId: null,
        createdAtMs: input.nowMs,
        updatedAtMs: input.nowMs,
      },
    }
  }
  if (cur.peerHubId !== input.peerHubId) return { answer: 'foreign', next: null }
  if (!RELEASABLE_PEER_HOLD_STATES.includes(cur.state)) return { answer: cur, next: null }
  return { answer: cur, next: { ...cur, state: 'released', updatedAtMs: input.nowMs } }
}

/**
 * Housekeeping (`deletePeerHoldsOlderThan`): an entry last changed before
 * `cutoffMs` may go, except a confirmed one whose slot (`atMs`) is not older
 * than `cutoffMs` (a peer may still cancel its reservation).
 */
export function isStalePeerHold(r: Pick<PeerHoldRecord, 'state' | 'atMs' | 'updatedAtMs'>, cutoffMs: number): boolean {
  if (r.updatedAtMs >= cutoffMs) return false
  return r.state !== 'confirmed' || (r.atMs ?? 0) < cutoffMs
}
