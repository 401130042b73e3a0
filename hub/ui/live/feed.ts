/**
 * The dashboard's live feed: every `tickMs` (default 250 ms, so a change
 * reaches the page well within a second) it rebuilds the station rows,
 * sends each subscriber only the rows that changed, the new journal entries,
 * the latest power sample of each running session, and the bookings version
 * when bookings changed (re-read every `bookingsEveryMs`). It runs only
 * while someone subscribes. Bursts of telemetry are coalesced into one patch
 * per tick, which bounds the work however fast stations report.
 */
import type { Logger } from 'pino'
import type { BookingsWatch } from './bookings.js'
import type { Journal, JournalEntry } from './journal.js'
import type { PowerLog } from './power-log.js'
import type { StationView, StationViews } from './station-views.js'

export interface FeedPatch {
  /** Hub clock, epoch ms. */
  t: number
  stations: StationView[]
  journal: JournalEntry[]
  power: Array<{ sessionId: string; stationId: string; t: number; powerW: number; meterWh: number }>
  bookingsVersion: number
}

/** Called with each message; `close` (no data) when the feed shuts down. */
export type FeedSubscriber = (event: 'snapshot' | 'patch' | 'close', data?: FeedPatch) => void

export interface FeedDeps {
  views: StationViews
  journal: Journal
  power: PowerLog
  bookings: BookingsWatch
  now: () => number
  logger: Logger
  tickMs?: number
  bookingsEveryMs?: number
}

export class LiveFeed {
  readonly #d: FeedDeps
  readonly #subs = new Set<FeedSubscriber>()
  #timer: NodeJS.Timeout | null = null
  #last = new Map<string, string>()
  #journalSeq = 0
  #bookingsAt = 0
  #running = false

  constructor(d: FeedDeps) {
    this.#d = d
  }

  get subscribers(): number {
    return this.#subs.size
  }

  /** Subscribe; the first message (synchronously after the next tick starts) is a full snapshot. Returns the unsubscribe. */
  async subscribe(fn: FeedSubscriber): Promise<() => void> {
    if (this.#subs.size === 0) await this.#d.bookings.refresh().catch(() => false)
    const views = this.#d.views.all(this.#d.bookings.nextByStation)
    fn('snapshot', { t: this.#d.now(), stations: views, journal: this.#d.journal.recent(null, 50).reverse(), power: [], bookingsVersion: this.#d.bookings.version })
    this.#subs.add(fn)
    if (this.#subs.size === 1) this.#startTicking(views)
    return () => {
      this.#subs.delete(fn)
      if (this.#subs.size === 0) this.stop()
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }

  /** End every subscription (each subscriber gets `close`) and stop. */
  close(): void {
    for (const fn of [...this.#subs]) fn('close')
    this.#subs.clear()
    this.stop()
  }

  #startTicking(views: StationView[]): void {
    this.#last = new Map(views.map((v) => [v.id, JSON.stringify(v)]))
    this.#journalSeq = this.#d.journal.lastSeq
    this.#d.power.takeFresh()
    this.#timer = setInterval(() => void this.#tick(), this.#d.tickMs ?? 250)
    this.#timer.unref()
  }

  async #tick(): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      const now = this.#d.now()
      let bookingsChanged = false
      if (now - this.#bookingsAt >= (this.#d.bookingsEveryMs ?? 500) || now < this.#bookingsAt) {
        this.#bookingsAt = now
        bookingsChanged = await this.#d.bookings.refresh()
      }
      const changed: StationView[] = []
      for (const v of this.#d.views.all(this.#d.bookings.nextByStation)) {
        const s = JSON.stringify(v)
        if (this.#last.get(v.id) !== s) {
          this.#last.set(v.id, s)
          changed.push(v)
        }
      }
      const journal = this.#d.journal.since(this.#journalSeq)
      this.#journalSeq = this.#d.journal.lastSeq
      const power = this.#d.power.takeFresh()
      if (changed.length === 0 && journal.length === 0 && power.length === 0 && !bookingsChanged) return
      const patch: FeedPatch = { t: now, stations: changed, journal, power, bookingsVersion: this.#d.bookings.version }
      for (const fn of this.#subs) fn('patch', patch)
    } catch (err) {
      this.#d.logger.warn({ err }, 'dashboard feed tick failed')
    } finally {
      this.#running = false
    }
  }
}
