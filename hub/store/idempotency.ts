/**
 * Idempotency keys of the federation API (docs/protocol.md "HTTP federation",
 * docs/design.md pitfalls; IETF httpapi Idempotency-Key draft, Stripe practice).
 *
 * A key is scoped: two peers may use the same key string without meeting.
 * The first request with a key CLAIMS it (state `running`); when it ends its
 * answer is stored (state `done`) and every later request with that key and
 * the same fingerprint gets that answer back. A claim carries a lease: a
 * `running` claim whose lease has run out (its process died mid-request) may
 * be claimed again by a request with the same fingerprint.
 */

/** What a claim found. */
export type IdempotencyClaim =
  /** The key was free (or its running claim had lapsed): the caller runs the request and must `complete` or `abandon`. */
  | { state: 'claimed' }
  /** Another request with this key and fingerprint is still running. */
  | { state: 'in_progress' }
  /** The key was used for a different request (another fingerprint). */
  | { state: 'mismatch' }
  /** The key's request finished: answer this again. */
  | { state: 'done'; status: number; body: string | null }

export interface ClaimInput {
  /** Who owns the key (the calling peer's hub id). */
  scope: string
  key: string
  /** A digest of the request (method, path, body); same key + other fingerprint is a misuse. */
  fingerprint: string
  nowMs: number
  /** How long the claim stays exclusive without being completed. */
  leaseMs: number
}

export interface RenewInput {
  scope: string
  key: string
  nowMs: number
  /** The lease from now on, ms. */
  leaseMs: number
}

export interface CompleteInput {
  scope: string
  key: string
  status: number
  /** The answer's body as sent (JSON text), or null for an empty body. */
  body: string | null
  nowMs: number
}

/**
 * Contract (in addition to the general Store contract in ./types.ts):
 * - `claim` is atomic: of any number of concurrent claims of one (scope, key),
 *   in any number of processes on one database, exactly one resolves
 *   `claimed` while the claim is live.
 * - `renew` keeps a running claim exclusive for `leaseMs` from `nowMs`: the
 *   process running the request calls it while it runs, so only a claim
 *   whose process died (or stalled a whole lease) lapses. Resolves false
 *   when the key is not running (done, abandoned or deleted).
 * - `complete` stores the answer of the caller's claim; `abandon` forgets a
 *   running claim so the next request with the key runs afresh (for answers
 *   not worth repeating, such as an internal error).
 * - Records live until `deleteOlderThan` removes them (callers keep them at
 *   least 24 h).
 */
export interface IdempotencyStore {
  claim(input: ClaimInput): Promise<IdempotencyClaim>
  renew(input: RenewInput): Promise<boolean>
  complete(input: CompleteInput): Promise<void>
  abandon(scope: string, key: string): Promise<void>
  /** Delete records created before `cutoffMs`; resolves how many. */
  deleteOlderThan(cutoffMs: number): Promise<number>
}
