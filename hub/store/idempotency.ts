/**
 * Idempotency keys of the federation API (docs/protocol.md "HTTP federation",
 * docs/design.md pitfalls; IETF httpapi Idempotency-Key draft, Stripe practice).
 *
 * A key is scoped: two peers may use the same key string without meeting.
 * The first request with a key CLAIMS it (state `running`); when it ends its
 * answer is stored (state `done`) and every later request with that key and
 * the same fingerprint gets that answer back. A claim carries a lease: a
 * `running` claim whose lease has run out (its process died mid-request) may
 * be claimed again by a request with the same fingerprint. Each claim names
 * its owner, a token the run makes for itself: only the owner of a running
 * claim renews, completes or abandons it, so a run whose claim lapsed and was
 * taken by another run changes nothing (it learns so, and answers what the
 * key holds then).
 */

/** What a claim found. */
export type IdempotencyClaim =
  /**
   * The key was free (or its running claim had lapsed): the caller, as `owner`, runs the request and must `complete` or `abandon`.
   * `firstClaimedAtMs`: when the key was first claimed (epoch ms, the first claimer's `nowMs`): this claim's `nowMs` for a
   * new key, the key's creation time for a lapsed claim taken over (a run that died before its answer was stored).
   */
  | { state: 'claimed'; firstClaimedAtMs: number }
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
  /** The claiming run's own token (e.g. a random UUID, one per run, never reused): it owns the claim if it gets it. */
  owner: string
}

/** A running claim as its owner names it. */
export interface OwnedKey {
  scope: string
  key: string
  /** The owner given to the `claim` that answered `claimed`. */
  owner: string
}

export interface RenewInput extends OwnedKey {
  nowMs: number
  /** The lease from now on, ms. */
  leaseMs: number
}

export interface CompleteInput extends OwnedKey {
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
 * - A claim that answers `claimed` makes the key `running` with the claim's
 *   `owner` (a lapsed claim taken over gets the new owner). It names when the
  key was first claimed: its creation time, kept when a lapsed claim is
  taken over or abandoned (until `deleteOlderThan` removes the key). `renew`,
 *   `complete` and `abandon` are compare-and-set on that owner: each acts only
 *   while the key is `running` with the owner given, and resolves whether it
 *   acted. With any other owner (a run whose claim lapsed and was taken), or
 *   a key done, abandoned or deleted, each changes nothing and resolves false.
 * - `renew` keeps a running claim exclusive for `leaseMs` from `nowMs`: the
 *   process running the request calls it while it runs, so only a claim
 *   whose process died (or stalled a whole lease) lapses.
 * - `complete` stores the answer of the owner's claim (state `done`); a done
 *   key's answer is never replaced. When it resolves false the answer was not
 *   stored: the caller answers what the key holds now (claim it again with
 *   the same fingerprint: the answer stored by the run that took over).
 * - `abandon` gives up the owner's running claim so the next request with the
 *   key runs afresh (for answers not worth repeating, such as an internal
 *   error); another run's claim stays. The key itself stays (ABANDONED in
 *   ./idempotency-rules.ts): its next claim with the same fingerprint takes
 *   it over at once, keeping its first-claim time, and one with another
 *   fingerprint is a mismatch (the key reused for another request).
 * - Records live until `deleteOlderThan` removes them (callers keep them at
 *   least 24 h).
 */
export interface IdempotencyStore {
  claim(input: ClaimInput): Promise<IdempotencyClaim>
  renew(input: RenewInput): Promise<boolean>
  /** Resolves whether the answer was stored (false: the claim is not the owner's any more). */
  complete(input: CompleteInput): Promise<boolean>
  /** Resolves whether the owner's running claim was given up. */
  abandon(input: OwnedKey): Promise<boolean>
  /** Delete records created before `cutoffMs`; resolves how many. */
  deleteOlderThan(cutoffMs: number): Promise<number>
}

/**
 * One run of an Idempotency-Key call whose claim and answer ride in the same
 * write as its effect, where the store can (PeerHoldWrites): one commit where
 * claim, effect and answer take three. The federation's guard
 * (hub/federation/idempotency.ts, `runKeyed`) makes one per run and hands it
 * to the work, which passes it to its writes (KeyedAnswer):
 *
 * - the first write that carries it claims the key before anything else in
 *   that write, and when the claim is not `claimed` does nothing else and
 *   rejects with KeyHeld (the guard answers what the key holds);
 * - the write that makes the effect stores the answer with it.
 *
 * Only what a committed write did is recorded here (`settle`): a write that
 * rolled back claimed nothing and stored nothing.
 */
export class KeyedCall {
  /** The claim a committed write made (null: none yet). */
  claim: IdempotencyClaim | null = null
  /** The answer a committed write stored with the effect (null: not stored yet). */
  stored: { status: number; body: string } | null = null

  /** Whether a committed write (or the claim before them) ever claimed the key for this call. */
  everClaimed = false
  /** Called once, when a committed write first claimed the key without storing the answer (the run goes on: renew the claim). */
  onClaimed: (() => void) | null = null

  constructor(readonly claimInput: ClaimInput) {}

  /** A call whose key was claimed before its first write (`claim`, by IdempotencyStore.claim as `input.owner`): its writes only check the claim is still the run's. */
  static claimed(input: ClaimInput, claim: Extract<IdempotencyClaim, { state: 'claimed' }>): KeyedCall {
    const call = new KeyedCall(input)
    call.claim = claim
    call.everClaimed = true
    return call
  }

  /** The claim the next write must make first: the call's, until a committed write made it. */
  get pendingClaim(): ClaimInput | null {
    return this.claim === null ? this.claimInput : null
  }

  /** Record what a committed write did; rejects with KeyHeld when the claim it made is not `claimed`. */
  settle(claim: IdempotencyClaim | null, stored: { status: number; body: string } | null): void {
    if (claim !== null) this.claim = claim
    if (claim !== null && claim.state === 'claimed' && !this.everClaimed) {
      this.everClaimed = true
      // A write that claimed and answered at once needs no renewal: the call is done.
      if (stored === null) this.onClaimed?.()
    }
    if (stored !== null) this.stored = stored
    if (claim !== null && claim.state !== 'claimed') throw new KeyHeld(claim)
  }
}

/** The answer a write stores with its effect: the HTTP status, and the body (JSON text) made from what the write made. */
export interface KeyedAnswer<R> {
  call: KeyedCall
  status: number
  body: (made: R) => string
}

/** A keyed call's run and the HTTP status of its success answer, as a route hands it to the work (which makes the body: KeyedAnswer). */
export type KeyedStatus = Pick<KeyedAnswer<never>, 'call' | 'status'>

/** A keyed write found its key held (in progress, done, or used for another request): it changed nothing. */
export class KeyHeld extends Error {
  constructor(readonly claim: Exclude<IdempotencyClaim, { state: 'claimed' }>) {
    super(`the Idempotency-Key is ${claim.state}`)
    this.name = 'KeyHeld'
  }
}
