/**
 * Dashboard sessions, in memory: a random id (the cookie), the operator, a
 * CSRF token every POST must echo in `x-csrf-token`, and an expiry on the
 * injected clock. Bounded: beyond `max` live sessions the oldest is dropped
 * (its operator logs in again), so a login loop cannot grow the hub's memory.
 * A hub restart logs everyone out.
 */
import { randomBytes } from 'node:crypto'
import type { Clock } from '../../base/clock.js'

export interface UiSession {
  id: string
  operator: string
  csrf: string
  expiresAtMs: number
}

export interface SessionStoreOptions {
  clock: Clock
  /** Lifetime of a session from login. Default 12 h. */
  ttlMs?: number
  /** Most sessions kept at once. Default 1000. */
  max?: number
}

export const DEFAULT_SESSION_TTL_MS = 12 * 3600_000

const token = (): string => randomBytes(32).toString('base64url')

export class SessionStore {
  readonly #clock: Clock
  readonly #ttlMs: number
  readonly #max: number
  /** Insertion order is login order: the first key is the oldest session. */
  readonly #byId = new Map<string, UiSession>()

  constructor(o: SessionStoreOptions) {
    this.#clock = o.clock
    this.#ttlMs = o.ttlMs ?? DEFAULT_SESSION_TTL_MS
    this.#max = o.max ?? 1000
  }

  get size(): number {
    return this.#byId.size
  }

  get ttlMs(): number {
    return this.#ttlMs
  }

  create(operator: string): UiSession {
    this.#sweep()
    while (this.#byId.size >= this.#max) {
      const oldest = this.#byId.keys().next().value
      if (oldest === undefined) break
      this.#byId.delete(oldest)
    }
    const s: UiSession = { id: token(), operator, csrf: token(), expiresAtMs: this.#clock.now() + this.#ttlMs }
    this.#byId.set(s.id, s)
    return s
  }

  /** The live session with this id, or null (unknown, or expired: then it is forgotten). */
  get(id: string | undefined): UiSession | null {
    if (id === undefined) return null
    const s = this.#byId.get(id)
    if (!s) return null
    if (this.#clock.now() >= s.expiresAtMs) {
      this.#byId.delete(id)
      return null
    }
    return s
  }

  delete(id: string): void {
    this.#byId.delete(id)
  }

  #sweep(): void {
    const now = this.#clock.now()
    for (const [id, s] of this.#byId) if (now >= s.expiresAtMs) this.#byId.delete(id)
  }
}
