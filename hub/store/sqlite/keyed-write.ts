/**
 * One booking write that carries a keyed call (KeyedCall, ../idempotency.ts):
 * the call's claim first, while no earlier write of the run made it (a claim
 * not `claimed` changes nothing else), or else the check that the run still
 * owns its key (a later write of a run whose claim lapsed and was taken books
 * nothing); then the work, which stores the call's answer with what it made.
 * Used by the writes that book for an Idempotency-Key call of a peer
 * (./peer-hold-writes.ts) and for a vehicle's request id
 * (./keyed-reservations.ts), and by a trip's first write (./trip-writes.ts):
 * one commit where claim, effect and answer take three.
 */
import type { IdempotencyClaim, KeyedAnswer } from '../idempotency.js'
import type { SqliteIdempotencyStore } from './idempotency.js'
import type { SqliteReservationStore } from './reservations.js'

/** What one write did for its keyed call: the claim it made (null: none), the answer it stored (null: none). */
interface KeyedDone<T> {
  value: T
  claim: IdempotencyClaim | null
  stored: { status: number; body: string } | null
}

/**
 * `work` in one booking write of `reservations`' connection at `nowMs` (`keys` on the same
 * connection), after `keyed`'s claim or ownership check (module doc). `work` calls `store` with
 * what it made to store the call's answer with it. What the committed write did is settled on
 * the call (KeyedCall.settle: rejects with KeyHeld when the key is another run's); without
 * `keyed`, just `work` in a booking write. A write that rolled back settles nothing.
 */
export async function keyedWrite<R, T>(
  reservations: SqliteReservationStore,
  keys: SqliteIdempotencyStore,
  keyed: KeyedAnswer<R> | undefined,
  nowMs: number,
  work: (store: (made: R) => void) => T,
): Promise<T> {
  const done = await reservations.bookingWrite((): KeyedDone<T | null> => {
    const pending = keyed?.call.pendingClaim ?? null
    // The first write claims the key (its lease from this write on); a later one checks the run still owns it (a
    // claim that lapsed and was taken by another run, which may have answered already: this run must book nothing more).
    const claim = pending !== null ? keys.claimInWrite({ ...pending, nowMs }) : keyed ? keys.lostClaimInWrite(keyed.call.claimInput) : null
    if (claim !== null && claim.state !== 'claimed') return { value: null, claim, stored: null }
    let stored: KeyedDone<T>['stored'] = null
    const value = work((made) => {
      if (!keyed) return
      const { scope, key, owner } = keyed.call.claimInput
      const body = keyed.body(made)
      if (keys.completeInWrite({ scope, key, owner, status: keyed.status, body, nowMs })) stored = { status: keyed.status, body }
    })
    return { value, claim, stored }
  })
  keyed?.call.settle(done.claim, done.stored)
  return done.value as T
}
