/**
 * This replica's leases (hub/store/leases.ts): take one before starting a
 * piece of background work (a trip, a release, a sweep), give it back when
 * done; while the process lives a heartbeat renews all of them at once, so
 * only a dead replica's leases run out and are taken over by a live one.
 *
 * A single hub is the replica `main`: after a restart it gets its own leases
 * back at once, so recovery at start-up works as before.
 */
import type { Logger } from 'pino'
import type { Clock } from '../../base/clock.js'
import type { AcquireLeaseInput, LeaseStore } from '../store/index.js'

export interface LeaseKeeperOptions {
  store: LeaseStore
  clock: Clock
  logger: Logger
  /** The replica name (owner of its leases). */
  owner: string
  /** How long a lease outlives its owner's last heartbeat. Default 15 s; the heartbeat runs every third of it. */
  ttlMs?: number
}

export const DEFAULT_LEASE_TTL_MS = 15_000

export class LeaseKeeper {
  readonly owner: string
  readonly ttlMs: number
  readonly #o: LeaseKeeperOptions
  #cancel: (() => void) | null = null

  constructor(opts: LeaseKeeperOptions) {
    this.#o = opts
    this.owner = opts.owner
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS
  }

  /** Releases of this replica under way, by lease name (an acquire of the name waits for its release). */
  readonly #releasing = new Map<string, Promise<void>>()

  /** Releases that failed, to be tried again at the next heartbeat: cancel of each retry, by lease name. */
  readonly #retries = new Map<string, () => void>()

  /**
   * Take (or renew) the lease `name`; resolves false when a live replica holds it. `write` (default
   * LeaseStore.acquire) takes it with more in the same write (Store.tripWrites: a new trip with its lease).
   */
  async acquire(name: string, write?: (input: AcquireLeaseInput) => Promise<boolean>): Promise<boolean> {
    this.#dropRetry(name)
    const releasing = this.#releasing.get(name)
    if (releasing) await releasing
    const input = { name, owner: this.owner, nowMs: this.#o.clock.now(), ttlMs: this.ttlMs }
    return write ? write(input) : this.#o.store.acquire(input)
  }

  /**
   * Give the lease back. Never rejects. A caller need not wait for it: an acquire of the same name in
   * this process waits for it first. One that fails is tried again every heartbeat while the heartbeat
   * runs (which would otherwise renew it for as long as this replica lives); once the heartbeat stops,
   * an unreleased lease only runs out.
   */
  release(name: string): Promise<void> {
    this.#dropRetry(name)
    const done: Promise<void> = this.#o.store
      .release(name, this.owner)
      .catch((err: unknown) => {
        this.#o.logger.warn({ err, lease: name }, 'could not give a lease back')
        this.#retryLater(name)
      })
      .finally(() => {
        if (this.#releasing.get(name) === done) this.#releasing.delete(name)
      })
    this.#releasing.set(name, done)
    return done
  }

  /** Resolves once every release under way has reached the store (before the store closes: federation.close()). */
  async settled(): Promise<void> {
    while (this.#releasing.size > 0) await Promise.all(this.#releasing.values())
  }

  /** Start renewing this replica's leases every third of the TTL. */
  start(): void {
    if (this.#cancel) return
    const beat = (): void => {
      this.#cancel = this.#o.clock.setTimer(() => {
        this.#o.store
          .renewAll({ owner: this.owner, nowMs: this.#o.clock.now(), ttlMs: this.ttlMs })
          .catch((err: unknown) => this.#o.logger.warn({ err }, 'could not renew leases'))
          .finally(() => {
            if (this.#cancel) beat()
          })
      }, this.#beatMs)
    }
    beat()
  }

  stop(): void {
    const c = this.#cancel
    this.#cancel = null
    c?.()
    for (const cancel of this.#retries.values()) cancel()
    this.#retries.clear()
  }

  #retryLater(name: string): void {
    if (!this.#cancel || this.#retries.has(name)) return
    const cancel = this.#o.clock.setTimer(() => {
      this.#retries.delete(name)
      void this.release(name)
    }, this.#beatMs)
    this.#retries.set(name, cancel)
  }

  #dropRetry(name: string): void {
    this.#retries.get(name)?.()
    this.#retries.delete(name)
  }

  get #beatMs(): number {
    return Math.max(10, Math.floor(this.ttlMs / 3))
  }
}

/** Lease names. */
export const leaseNames = {
  trip: (tripId: string): string => `trip:${tripId}`,
  release: (releaseId: string): string => `release:${releaseId}`,
  /** The database's housekeeping (expired holds, old idempotency answers, stale leases): one replica at a time. */
  sweeper: 'sweeper',
  /** The recovery of charging starts whose run died (hub/charging/stale-start.ts): one replica at a time. */
  staleStarts: 'stale-starts',
} as const
