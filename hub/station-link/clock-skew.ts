/**
 * How far each station's clock is from the hub's. The hub bills, orders and
 * shows times on its own clock; a station's `ts` is kept as reported and only
 * measured here: skew = station `ts` - hub clock when the message arrived, in
 * seconds (positive: the station runs ahead). An event the station queued
 * while the hub was away arrives late, so it shows its age as negative skew.
 */
import type { Logger } from 'pino'
import { parseTime } from '../../protocol/index.js'

export interface StationClockWatchOptions {
  logger: Logger
  /** Each measurement, in seconds (e.g. a Prometheus gauge per station). */
  onSkew?: (stationId: string, skewSeconds: number) => void
  /** Warn when |skew| exceeds this. Default 60 000 ms. */
  warnAboveMs?: number
  /** At most one warning per station per this long, on the hub clock. Default 600 000 ms. */
  warnEveryMs?: number
}

export const DEFAULT_SKEW_WARN_MS = 60_000

export class StationClockWatch {
  readonly #o: StationClockWatchOptions
  readonly #log: Logger
  readonly #warnedAt = new Map<string, number>()

  constructor(o: StationClockWatchOptions) {
    this.#o = o
    this.#log = o.logger.child({ component: 'station-clock' })
  }

  /**
   * Record one reported time (RFC 3339, already schema-checked) against the
   * hub's receipt time (epoch ms). Returns the skew in ms; never throws.
   */
  observe(stationId: string, reportedTs: string, receivedAtMs: number): number {
    const skewMs = parseTime(reportedTs) - receivedAtMs
    if (!Number.isFinite(skewMs)) return 0
    this.#o.onSkew?.(stationId, skewMs / 1000)
    if (Math.abs(skewMs) > (this.#o.warnAboveMs ?? DEFAULT_SKEW_WARN_MS)) {
      const last = this.#warnedAt.get(stationId)
      if (last === undefined || receivedAtMs - last >= (this.#o.warnEveryMs ?? 600_000) || receivedAtMs < last) {
        this.#warnedAt.set(stationId, receivedAtMs)
        this.#log.warn({ stationId, skewSeconds: Math.round(skewMs / 1000), reportedTs }, "station clock differs from the hub's; the hub uses its own")
      }
    }
    return skewMs
  }
}
