/**
 * The durable release queue: releases (of holds, and of reservations made
 * from them) that did not succeed at once are retried with exponential
 * backoff until they do, or until they are pointless: a hold past its TTL
 * (plus clock skew) is gone by itself. The queue lives in the database
 * (`store.trips` releases), so a restart picks it up again. Each release is
 * tried only under its lease (hub/store/leases.ts), so with several replicas
 * one works on it, and a dead replica's releases are taken over by `rescan`.
 */
import type { Logger } from 'pino'
import { VoltwayError } from '../../protocol/index.js'
import type { Clock, Random } from '../../base/clock.js'
import type { ReleaseTask, Store } from '../store/index.js'
import { leaseNames, type LeaseKeeper } from './lease-keeper.js'
import type { Participants } from './participants.js'

export interface ReleaserOptions {
  store: Store
  clock: Clock
  logger: Logger
  participants: Participants
  /** This replica's leases. */
  leases: LeaseKeeper
  /** First retry delay; doubles per attempt. Default 200 ms. */
  minDelayMs?: number
  /** Longest retry delay. Default 30 s. */
  maxDelayMs?: number
  /** Timeout of one release call. Default 2000 ms. */
  timeoutMs?: number
  /** Jitter of the retry delay (default Math.random). */
  random?: Random
}

export class Releaser {
  readonly #o: ReleaserOptions
  readonly #log: Logger
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #running = new Map<string, Promise<void>>()
  #closed = false

  constructor(opts: ReleaserOptions) {
    this.#o = opts
    this.#log = opts.logger.child({ component: 'releaser' })
  }

  /** Schedule every queued release (after a restart). */
  async start(): Promise<void> {
    await this.rescan()
  }

  /** Schedule every queued release not scheduled here yet; each runs only if its lease is free (its replica died) or this replica's. */
  async rescan(): Promise<void> {
    for (const t of await this.#o.store.trips.listReleases()) this.schedule(t)
  }

  /** Releases waiting or running in this process. */
  get pending(): number {
    return new Set([...this.#timers.keys(), ...this.#running.keys()]).size
  }

  /** Schedule a release already written to the queue. */
  schedule(task: ReleaseTask): void {
    if (this.#closed || this.#timers.has(task.releaseId) || this.#running.has(task.releaseId)) return
    const delay = Math.max(0, task.nextAtMs - this.#o.clock.now())
    const timer = setTimeout(() => {
      this.#timers.delete(task.releaseId)
      const run = this.#run(task).then((again) => {
        this.#running.delete(task.releaseId)
        if (again) this.schedule(again)
      })
      this.#running.set(task.releaseId, run)
    }, delay)
    timer.unref()
    this.#timers.set(task.releaseId, timer)
  }

  /** Resolves when nothing is queued in this process any more (tests). */
  async drain(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.pending > 0) {
      if (Date.now() > deadline) throw new Error(`${this.pending} releases still pending after ${timeoutMs} ms`)
      await Promise.race([...this.#running.values(), new Promise((r) => setTimeout(r, 10))])
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
    await Promise.allSettled([...this.#running.values()])
  }

  /** One try; resolves the task to try again, or null when it is done (or dropped). Never rejects. */
  async #run(task: ReleaseTask): Promise<ReleaseTask | null> {
    const { store, clock, participants, leases } = this.#o
    if (this.#closed) return null
    const lease = leaseNames.release(task.releaseId)
    // Another live replica works on it (or has done it): leave it to that one.
    if (!(await leases.acquire(lease).catch(() => false))) return null
    const done = async (): Promise<null> => {
      await store.trips.deleteRelease(task.releaseId)
      await leases.release(lease)
      return null
    }
    if (task.untilMs !== null && clock.now() > task.untilMs) {
      this.#log.info({ releaseId: task.releaseId, hubId: task.hubId, kind: task.kind }, 'release no longer needed (expired by itself)')
      return done().catch((err: unknown) => {
        this.#log.error({ err }, 'could not drop a release')
        return null
      })
    }
    try {
      const p = participants.get(task.hubId)
      const timeoutMs = this.#o.timeoutMs ?? 2000
      if (task.kind === 'hold') await p.release(task.targetId, task.idempotencyKey, timeoutMs)
      else await p.cancelReservation(task.targetId, task.idempotencyKey, timeoutMs)
      await done()
      this.#log.debug({ releaseId: task.releaseId, hubId: task.hubId, attempts: task.attempts + 1 }, 'release done')
      return null
    } catch (err) {
      if (err instanceof VoltwayError && !retryable(err)) {
        this.#log.warn({ releaseId: task.releaseId, hubId: task.hubId, code: err.code }, 'release refused; dropped')
        return done().catch(() => null)
      }
      const attempts = task.attempts + 1
      const base = Math.min(this.#o.maxDelayMs ?? 30_000, (this.#o.minDelayMs ?? 200) * 2 ** Math.min(attempts - 1, 20))
      const nextAtMs = clock.now() + Math.round(base * (0.5 + (this.#o.random ?? Math.random)() / 2))
      this.#log.info({ releaseId: task.releaseId, hubId: task.hubId, attempts, err: String(err) }, 'release failed; will retry')
      try {
        await store.trips.rescheduleRelease(task.releaseId, attempts, nextAtMs)
      } catch (e) {
        this.#log.error({ err: e }, 'could not reschedule a release')
      }
      return this.#closed ? null : { ...task, attempts, nextAtMs }
    }
  }
}

/** Errors after which trying again can help. */
export function retryable(err: VoltwayError): boolean {
  return ['PEER_UNAVAILABLE', 'TIMEOUT', 'INTERNAL', 'IDEMPOTENCY_IN_PROGRESS'].includes(err.code)
}
