/**
 * The claim rule of idempotency keys (./idempotency.ts), in one place for
 * every IdempotencyStore. The store reads the key's entry and writes what the
 * decision says, in one transaction.
 */
import type { ClaimInput, IdempotencyClaim, RenewInput } from './idempotency.js'

/** A stored key, as the claim rule needs it. */
export interface IdempotencyEntry {
  fingerprint: string
  state: 'running' | 'done'
  /** The stored answer's HTTP status once `done`. */
  status: number | null
  body: string | null
  /** Until when (epoch ms) a `running` claim stays exclusive. */
  leaseUntilMs: number
  /** The run that owns the claim (the claimer's token); a done key keeps its last owner's. */
  owner: string
  /** When the key was first claimed (epoch ms): kept when a lapsed claim is taken over. */
  createdAtMs: number
}

/**
 * What a claim answers, and what it writes: `insert` a new running entry
 * (created at `nowMs`), `take` a lapsed running claim over (its creation time
 * stays), or nothing. Both writes set the lease to `leaseUntilMs` and the
 * owner to the claimer's.
 */
export interface ClaimDecision {
  claim: IdempotencyClaim
  write: 'insert' | 'take' | null
  leaseUntilMs: number
}

/** Until when a claim made now stays exclusive (epoch ms). */
export function claimLeaseUntil(input: Pick<ClaimInput, 'nowMs' | 'leaseMs'>): number {
  return input.nowMs + input.leaseMs
}

/**
 * Decide a claim of a key whose entry is `entry` (null: never seen). An
 * unseen key is claimed; another fingerprint is a mismatch, running or done;
 * a done key answers its stored answer again (a missing status reads as 500);
 * a running one is in progress until its lease ends (`leaseUntilMs <=
 * nowMs`), then the same request may claim it again (and owns it from then).
 * A claim names when the key was first claimed (`firstClaimedAtMs`): now for
 * an unseen key, the entry's creation time for one taken over.
 */
export function claimDecision(entry: IdempotencyEntry | null, input: ClaimInput): ClaimDecision {
  const leaseUntilMs = claimLeaseUntil(input)
  if (!entry) return { claim: { state: 'claimed', firstClaimedAtMs: input.nowMs }, write: 'insert', leaseUntilMs }
  if (entry.fingerprint !== input.fingerprint) return { claim: { state: 'mismatch' }, write: null, leaseUntilMs }
  if (entry.state === 'done') return { claim: { state: 'done', status: entry.status ?? 500, body: entry.body }, write: null, leaseUntilMs }
  if (entry.leaseUntilMs > input.nowMs) return { claim: { state: 'in_progress' }, write: null, leaseUntilMs }
  return { claim: { state: 'claimed', firstClaimedAtMs: entry.createdAtMs }, write: 'take', leaseUntilMs }
}

/**
 * What `abandon` leaves of a running claim: the key itself (its fingerprint and
 * first-claim time), owned by no run ('', never a run's token) with its lease
 * over, so the next claim with the same fingerprint takes it over at once (a
 * retry runs afresh, as of when the key was first claimed) and another
 * fingerprint is a mismatch, as while the claim ran.
 */
export const ABANDONED = { owner: '', leaseUntilMs: 0 } as const

/**
 * Whether `owner` may renew, complete or abandon the key whose entry is
 * `entry`: only while it is running and theirs. A run whose claim lapsed and
 * was taken over, a done key, or one gone (abandoned, housekept): no.
 */
export function ownsRunning(entry: Pick<IdempotencyEntry, 'state' | 'owner'> | null, owner: string): boolean {
  return entry?.state === 'running' && entry.owner === owner
}

/**
 * Decide a renewal of a claim whose entry is `entry`: the owner's running
 * claim's lease moves to `nowMs + leaseMs` (resolves that time); otherwise
 * (`ownsRunning` says no) the key keeps what it has (null).
 */
export function renewDecision(entry: Pick<IdempotencyEntry, 'state' | 'owner'> | null, input: RenewInput): number | null {
  return ownsRunning(entry, input.owner) ? claimLeaseUntil(input) : null
}

/**
 * What a run that claimed a key finds when it writes again under it (a keyed
 * write after the first, KeyedCall): null while it still owns the running
 * claim; otherwise what the key holds for its request (done: the stored
 * answer; another request's: mismatch), a claim taken from it counting as in
 * progress even once lapsed (a run does not take back a key taken from it).
 */
export function lostClaim(entry: IdempotencyEntry | null, input: ClaimInput): Exclude<IdempotencyClaim, { state: 'claimed' }> | null {
  if (ownsRunning(entry, input.owner)) return null
  const now = claimDecision(entry, input).claim
  return now.state === 'claimed' ? { state: 'in_progress' } : now
}
