/**
 * Wait-die (Rosenkrantz, Stearns and Lewis, 1978) on federation holds.
 *
 * Every trip is one transaction whose age is `txStartedAt` (ties broken by
 * txId); a restarted attempt keeps its age. When a hold request finds every
 * candidate station blocked:
 *
 * - if some candidate is blocked ONLY by holds of YOUNGER transactions (or
 *   of its own), the request WAITS (bounded) for them to be released,
 *   confirmed or expired, then tries again;
 * - otherwise it DIES at once: `died` when an older transaction's hold is in
 *   the way (the coordinator may restart later with the same age), `full`
 *   when only reservations are (no room; restarting is pointless).
 *
 * Waits only ever go from older to younger, so no cycle of waits (deadlock)
 * can form, and the oldest live transaction is never refused because of a
 * hold: it either books or finds the stations truly reserved. Hence no
 * livelock: contention ends with as many trips booked as there is room for.
 */
import type { Booking, BookingCandidate } from '../store/index.js'

export interface TxAge {
  txId: string
  txStartedAtMs: number
}

export type WaitDieDecision = 'wait' | 'died' | 'full'

/** True when transaction `a` is older than `b` (started earlier; equal starts: smaller txId). */
export function isOlder(a: TxAge, b: TxAge): boolean {
  return a.txStartedAtMs < b.txStartedAtMs || (a.txStartedAtMs === b.txStartedAtMs && a.txId < b.txId)
}

export function decide(me: TxAge, candidates: readonly BookingCandidate[], conflicts: readonly Booking[]): WaitDieDecision {
  let blockedByOlderHold = false
  for (const c of candidates) {
    const blockers = conflicts.filter((b) => b.stationId === c.stationId)
    // Free now (freed between the booking attempt and this check): trying again is the right move.
    if (blockers.length === 0) return 'wait'
    let waitable = true
    for (const b of blockers) {
      if (b.kind === 'reservation') {
        waitable = false
      } else if (b.txId !== me.txId && isOlder(b, me)) {
        waitable = false
        blockedByOlderHold = true
      }
    }
    if (waitable) return 'wait'
  }
  return blockedByOlderHold ? 'died' : 'full'
}
