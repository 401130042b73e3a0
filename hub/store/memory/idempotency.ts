/** In-memory IdempotencyStore: each method is synchronous inside, hence atomic on the one JS thread. */
import type { ClaimInput, CompleteInput, IdempotencyClaim, IdempotencyStore, RenewInput } from '../idempotency.js'
import { claimDecision, renewDecision, type IdempotencyEntry } from '../idempotency-rules.js'

interface Entry extends IdempotencyEntry {
  createdAtMs: number
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, Entry>()
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
      this.#entries.set(id, { fingerprint: input.fingerprint, state: 'running', status: null, body: null, createdAtMs: input.nowMs, leaseUntilMs: d.leaseUntilMs })
    } else if (d.write === 'renew' && e) {
      e.leaseUntilMs = d.leaseUntilMs
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

  async complete(input: CompleteInput): Promise<void> {
    this.#guard()
    const e = this.#entries.get(slot(input.scope, input.key))
    if (!e) return
    e.state = 'done'
    e.status = input.status
    e.body = input.body
  }

  async abandon(scope: string, key: string): Promise<void> {
    this.#guard()
    const id = slot(scope, key)
    if (this.#entries.get(id)?.state === 'running') this.#entries.delete(id)
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
