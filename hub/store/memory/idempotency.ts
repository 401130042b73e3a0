/** In-memory IdempotencyStore: each method is synchronous inside, hence atomic on the one JS thread. */
import type { ClaimInput, CompleteInput, IdempotencyClaim, IdempotencyStore, OwnedKey, RenewInput } from '../idempotency.js'
import { ABANDONED, claimDecision, ownsRunning, renewDecision, type IdempotencyEntry } from '../idempotency-rules.js'

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, IdempotencyEntry>()
  readonly #guard: () => void

  constructor(guard: () => void) {
    this.#guard = guard
  }

  reset(): void {
    this.#entries.clear()
  }

  async claim(input: ClaimInput): Promise<IdempotencyClaim> {
    this.#guard()
    const id = slot(input.scope, input.key)
    const e = this.#entries.get(id)
    const d = claimDecision(e ?? null, input)
    if (d.write === 'insert') {
      this.#entries.set(id, { fingerprint: input.fingerprint, state: 'running', status: null, body: null, createdAtMs: input.nowMs, leaseUntilMs: d.leaseUntilMs, owner: input.owner })
    } else if (d.write === 'take' && e) {
      e.leaseUntilMs = d.leaseUntilMs
      e.owner = input.owner
    }
    return d.claim
  }

  async renew(input: RenewInput): Promise<boolean> {
    this.#guard()
    const e = this.#entries.get(slot(input.scope, input.key))
    const until = renewDecision(e ?? null, input)
    if (until === null || !e) return false
    e.leaseUntilMs = until
    return true
  }

  async complete(input: CompleteInput): Promise<boolean> {
    this.#guard()
    const e = this.#entries.get(slot(input.scope, input.key))
    if (!e || !ownsRunning(e, input.owner)) return false
    e.state = 'done'
    e.status = input.status
    e.body = input.body
    return true
  }

  async abandon(input: OwnedKey): Promise<boolean> {
    this.#guard()
    const id = slot(input.scope, input.key)
    const e = this.#entries.get(id)
    if (!e || !ownsRunning(e, input.owner)) return false
    e.owner = ABANDONED.owner
    e.leaseUntilMs = ABANDONED.leaseUntilMs
    return true
  }

  async deleteOlderThan(cutoffMs: number): Promise<number> {
    this.#guard()
    let n = 0
    for (const [id, e] of [...this.#entries]) {
      if (e.createdAtMs < cutoffMs) {
        this.#entries.delete(id)
        n++
      }
    }
    return n
  }
}

const slot = (scope: string, key: string): string => `${scope}\n${key}`
