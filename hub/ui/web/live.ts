/**
 * The live stream (/ui/api/events): keeps every station's row current and
 * tells the page what changed. EventSource reconnects by itself; each
 * reconnect starts with a full snapshot.
 */
import type { FeedPatch, JournalEntry, PowerPoint, StationView } from './types.js'

export interface LiveListener {
  stations?(changed: StationView[], all: ReadonlyMap<string, StationView>): void
  journal?(entries: JournalEntry[]): void
  power?(points: PowerPoint[]): void
  bookings?(version: number): void
}

export class Live {
  readonly stations = new Map<string, StationView>()
  readonly #listeners = new Set<LiveListener>()
  #bookingsVersion = -1
  /** Messages and station rows applied, and the last message's age on arrival (ms, hub clock vs this machine's): for the benchmark. */
  applied = 0
  rowsApplied = 0
  lastLagMs = 0

  connect(onState: (up: boolean) => void): void {
    const es = new EventSource('/ui/api/events')
    es.addEventListener('open', () => onState(true))
    es.addEventListener('error', () => onState(false))
    es.addEventListener('snapshot', (e) => this.#apply(JSON.parse((e as MessageEvent<string>).data) as FeedPatch, true))
    es.addEventListener('patch', (e) => this.#apply(JSON.parse((e as MessageEvent<string>).data) as FeedPatch, false))
  }

  on(l: LiveListener): () => void {
    this.#listeners.add(l)
    if (this.stations.size > 0) l.stations?.([...this.stations.values()], this.stations)
    return () => this.#listeners.delete(l)
  }

  #apply(p: FeedPatch, snapshot: boolean): void {
    if (snapshot) this.stations.clear()
    for (const s of p.stations) this.stations.set(s.id, s)
    const bookingsChanged = p.bookingsVersion !== this.#bookingsVersion
    this.#bookingsVersion = p.bookingsVersion
    for (const l of this.#listeners) {
      if (p.stations.length > 0 || snapshot) l.stations?.(p.stations, this.stations)
      if (p.journal.length > 0) l.journal?.(p.journal)
      if (p.power.length > 0) l.power?.(p.power)
      if (bookingsChanged && !snapshot) l.bookings?.(p.bookingsVersion)
    }
    this.applied++
    this.rowsApplied += p.stations.length
    this.lastLagMs = Date.now() - p.t
  }
}
