/**
 * Whether the hub's database can take writes, for `/healthz` and for the
 * answers of requests that fail on it: a store failure that means "storage
 * cannot be written" (StoreError UNAVAILABLE or BUSY) becomes the wire code
 * STORAGE_UNAVAILABLE (HTTP 503) instead of INTERNAL, and turns the health
 * check false for `holdMs`, since a probe can succeed while real writes fail
 * (a full disk refuses new pages, not the probe's rewrite of one).
 */
import type { Logger } from 'pino'
import { VoltwayError } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import { StoreError } from './errors.js'
import type { Store } from './types.js'

export interface StorageAvailabilityOptions {
  store: Pick<Store, 'ping'>
  clock: Clock
  logger: Logger
  /** How long a failed write keeps the database unhealthy after the probe passes again, in ms. Default 30 s. */
  holdMs?: number
}

export class StorageAvailability {
  readonly #o: StorageAvailabilityOptions
  #failedAtMs: number | null = null

  constructor(opts: StorageAvailabilityOptions) {
    this.#o = opts
  }

  /** The coded error to answer for `err`, or null when it is not a storage failure (then it is INTERNAL as before). */
  wireError = (err: unknown): VoltwayError | null => {
    if (!(err instanceof StoreError)) return null
    if (err.code === 'BUSY') return new VoltwayError('STORAGE_UNAVAILABLE', 'the hub\'s database is busy; nothing was changed, try again')
    if (err.code !== 'UNAVAILABLE') return null
    this.#failedAtMs = this.#o.clock.now()
    this.#o.logger.error({ err }, 'storage unavailable: a write failed')
    return new VoltwayError('STORAGE_UNAVAILABLE', 'the hub cannot write to its database now; nothing was changed, try again later')
  }

  /** True when a write probe succeeds and no write failed for storage reasons in the last `holdMs`. */
  async writable(): Promise<boolean> {
    try {
      await this.#o.store.ping()
    } catch (err) {
      if (err instanceof StoreError && err.code === 'UNAVAILABLE') this.#failedAtMs = this.#o.clock.now()
      return false
    }
    return this.#failedAtMs === null || this.#o.clock.now() - this.#failedAtMs >= (this.#o.holdMs ?? 30_000)
  }
}
