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
}

/**
 * What a claim answers, and what it writes: `insert` a new running entry
 * (created at `nowMs`), `renew` the lease of a lapsed running claim, or
 * nothing. Both writes set the lease to `leaseUntilMs`.
 */
export interface ClaimDecision {
  claim: IdempotencyClaim
  write: 'insert' | 'renew' | null
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
 * nowMs`), then the same request may claim it again.
 */
export function claimDecision(entry: IdempotencyEntry | null, input: ClaimInput): ClaimDecision {
  const leaseUntilMs = claimLeaseUntil(input)
  if (!entry) return { claim: { state: 'claimed' }, write: 'insert', leaseUntilMs }
  if (entry.fingerprint !== input.fingerprint) return { claim: { state: 'mismatch' }, write: null, leaseUntilMs }
  if (entry.state === 'done') return { claim: { state: 'done', status: entry.status ?? 500, body: entry.body }, write: null, leaseUntilMs }
  if (entry.leaseUntilMs > input.nowMs) return { claim: { state: 'in_progress' }, write: null, leaseUntilMs }
  return { claim: { state: 'claimed' }, write: 'renew', leaseUntilMs }
}

/**
 * Decide a renewal of a claim whose entry is `entry`: a running claim's lease
 * moves to `nowMs + leaseMs` (resolves that time); a done key, or one gone
 * (abandoned, housekept), keeps what it has (null).
 */
export function renewDecision(entry: Pick<IdempotencyEntry, 'state'> | null, input: RenewInput): number | null {
  return entry?.state === 'running' ? claimLeaseUntil(input) : null
}
