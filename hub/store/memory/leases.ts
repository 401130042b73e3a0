/** In-memory LeaseStore: each method is synchronous inside, hence atomic on the one JS thread. */
import type { AcquireLeaseInput, LeaseStore } from '../leases.js'
import { mayAcquire, type LeaseEntry } from '../lease-rules.js'

export class MemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<string, LeaseEntry>()
  readonly #guard: () => void

  constructor(guard: () => void) {
    this.#guard = guard
  }

  reset(): void {
    this.#leases.clear()
  }

  async acquire(input: AcquireLeaseInput): Promise<boolean> {
    this.#guard()
    if (!mayAcquire(this.#leases.get(input.name) ?? null, input.owner, input.nowMs)) return false
    this.#leases.set(input.name, { owner: input.owner, expiresAtMs: input.nowMs + input.ttlMs })
    return true
  }

  async renewAll(input: { owner: string; nowMs: number; ttlMs: number }): Promise<number> {
    this.#guard()
    let n = 0
    for (const l of this.#leases.values()) {
      if (l.owner !== input.owner) continue
      l.expiresAtMs = input.nowMs + input.ttlMs
      n++
    }
    return n
  }

  async release(name: string, owner: string): Promise<void> {
    this.#guard()
    if (this.#leases.get(name)?.owner === owner) this.#leases.delete(name)
  }

  async deleteExpired(nowMs: number): Promise<number> {
    this.#guard()
    let n = 0
    for (const [name, l] of [...this.#leases]) {
      if (l.expiresAtMs > nowMs) continue
      this.#leases.delete(name)
      n++
    }
    return n
  }
}
