/**
 * Watches what the stations report (through {@link teeEventSink}) for the
 * dashboard: telemetry feeds the power log, events feed the journal (faults,
 * sessions), and reported times far from the hub's clock are noted
 * as clock skew (at most once per station per `skewEveryMs`).
 */
import { parseTime, type StationEvent, type Telemetry } from '../../../protocol/index.js'
import type { Clock } from '../../../base/clock.js'
import { DEFAULT_SKEW_WARN_MS } from '../../station-link/clock-skew.js'
import type { EventSink } from '../../station-link/event-listener.js'
import type { Store } from '../../store/index.js'
import { describeEvent } from './event-text.js'
import type { Journal } from './journal.js'
import type { PowerLog } from './power-log.js'

export interface StationObserverDeps {
  clock: Clock
  store: Store
  journal: Journal
  power: PowerLog
  /** Stations of this hub: reports from others are not shown. */
  known: (stationId: string) => boolean
  skewEveryMs?: number
}

export class StationObserver {
  readonly #d: StationObserverDeps
  readonly #skewNotedAt = new Map<string, number>()

  constructor(d: StationObserverDeps) {
    this.#d = d
  }

  onTelemetry(stationId: string, t: Telemetry): void {
    if (!this.#d.known(stationId)) return
    this.#noteSkew(stationId, t.ts)
    if (t.sessionId !== null) this.#d.power.record(stationId, t.sessionId, { t: this.#d.clock.now(), powerW: t.powerW, meterWh: t.meterWh })
  }

  async onEvent(stationId: string, ev: StationEvent): Promise<void> {
    if (!this.#d.known(stationId)) return
    const atMs = this.#d.clock.now()
    this.#noteSkew(stationId, ev.ts)
    const { kind, text } = describeEvent(ev)
    if (ev.type !== 'session.stopped') {
      this.#d.journal.add({ atMs, stationId, kind, text })
      return
    }
    this.#d.power.end(stationId, ev.sessionId)
    const receipt = await this.#d.store.charging.getReceipt(ev.sessionId)
    const billed = receipt ? `${receipt.costMinor} ${receipt.currency} minor units` : 'no bill (meter fault)'
    this.#d.journal.add({ atMs, stationId, kind, text: `${text}: ${billed}` })
  }

  #noteSkew(stationId: string, ts: string): void {
    const now = this.#d.clock.now()
    const skewMs = parseTime(ts) - now
    if (!Number.isFinite(skewMs) || Math.abs(skewMs) <= DEFAULT_SKEW_WARN_MS) return
    const last = this.#skewNotedAt.get(stationId)
    if (last !== undefined && now - last < (this.#d.skewEveryMs ?? 600_000) && now >= last) return
    this.#skewNotedAt.set(stationId, now)
    this.#d.journal.add({ atMs: now, stationId, kind: 'clock-skew', text: `station clock ${Math.round(skewMs / 1000)} s from the hub's` })
  }
}

/** The hub's event sink, with the observer told after each report is applied (its failures never reach the station link). */
export function teeEventSink(inner: EventSink, observer: StationObserver): EventSink {
  return {
    async applyEvent(stationId, ev) {
      await inner.applyEvent(stationId, ev)
      await observer.onEvent(stationId, ev).catch(() => undefined)
    },
    recordEvent: (stationId, ev) => inner.recordEvent(stationId, ev),
    onTelemetry(stationId, t) {
      inner.onTelemetry(stationId, t)
      observer.onTelemetry(stationId, t)
    },
  }
}
