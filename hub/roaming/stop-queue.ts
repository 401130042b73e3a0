/**
 * The durable stop queue of roaming sessions: a stop the peer did not
 * answer (unreachable, timed out) is kept in the store (`stopping`, with its
 * next try) and retried with exponential backoff until the peer answers with
 * a receipt or a refusal; a restart picks the queue up again. The stop's
 * Idempotency-Key is the same on every try, so the peer stops and bills once.
 */
import type { Logger } from 'pino'
import { VoltwayError } from '../../protocol/index.js'
import type { Clock, Random } from '../../base/clock.js'
import type { Store } from '../store/index.js'
import { retryable } from '../trips/releaser.js'

export interface StopQueueOptions {
  store: Store
  clock: Clock
  logger: Logger
  /** One try: stop the session at its peer and settle it (RoamingHome.stopAtPeer). Rejects with VoltwayError. */
  stop: (sessionId: string) => Promise<unknown>
  /** First retry delay; doubles per attempt. Default 200 ms. */
  minDelayMs?: number
  /** Longest retry delay. Default 30 s. */
  maxDelayMs?: number
  random?: Random
}

export class StopQueue {
  readonly #o: StopQueueOptions
  readonly #log: Logger
  readonly #timers = new Map<string, NodeJS.Timeout>()
  #closed = false

  constructor(opts: StopQueueOptions) {
    this.#o = opts
    this.#log = opts.logger.child({ component: 'roaming-stops' })
  }

  /** Schedule every queued stop (after a restart). */
  async start(): Promise<void> {
    for (const r of await this.#o.store.charging.roamingStops()) this.#schedule(r.sessionId, r.stopAttempts, r.nextStopAtMs ?? this.#o.clock.now())
  }

  /** Queue a stop that failed `attempts` times: written to the store before this resolves. */
  async enqueue(sessionId: string, attempts: number): Promise<void> {
    const nextAtMs = this.#next(attempts)
    if (await this.#o.store.charging.queueRoamingStop(sessionId, attempts, nextAtMs)) this.#schedule(sessionId, attempts, nextAtMs)
  }

  /** Stops waiting in this process. */
  get pending(): number {
    return this.#timers.size
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
  }

  #next(attempts: number): number {
    const base = Math.min(this.#o.maxDelayMs ?? 30_000, (this.#o.minDelayMs ?? 200) * 2 ** Math.min(Math.max(attempts - 1, 0), 20))
    return this.#o.clock.now() + Math.round(base * (0.5 + (this.#o.random ?? Math.random)() / 2))
  }

  #schedule(sessionId: string, attempts: number, atMs: number): void {
    if (this.#closed || this.#timers.has(sessionId)) return
    const timer = setTimeout(() => void this.#try(sessionId, attempts), Math.max(0, atMs - this.#o.clock.now()))
    timer.unref()
    this.#timers.set(sessionId, timer)
  }

  async #try(sessionId: string, attempts: number): Promise<void> {
    try {
      await this.#o.stop(sessionId)
      this.#timers.delete(sessionId)
      this.#log.info({ sessionId, attempts: attempts + 1 }, 'queued roaming stop done')
    } catch (err) {
      this.#timers.delete(sessionId)
      if (this.#closed) return
      if (err instanceof VoltwayError && !retryable(err)) {
        // stop() has settled the session as failed: nothing left to retry.
        this.#log.warn({ sessionId, code: err.code }, 'queued roaming stop refused by the peer')
        return
      }
      this.#log.info({ sessionId, attempts: attempts + 1, err: String(err) }, 'queued roaming stop failed; will retry')
      await this.enqueue(sessionId, attempts + 1).catch((e: unknown) => this.#log.error({ err: e, sessionId }, 'could not requeue a roaming stop'))
    }
  }
}
