/**
 * What happened at the stations, newest last, for the dashboard: faults,
 * sessions starting and stopping, clock skew, operator actions, and the
 * receipts the hub closed, as the live feed sends them. A bounded ring in
 * memory: a hub restart starts it empty (the pages read receipts and station
 * events from the store). Each entry has a rising `seq` so the live feed sends
 * only what is new.
 */
export type JournalKind = 'fault' | 'session.started' | 'session.stopped' | 'clock-skew' | 'action'

export interface JournalEntry {
  seq: number
  atMs: number
  stationId: string
  kind: JournalKind
  text: string
}

export class Journal {
  readonly #max: number
  #seq = 0
  #entries: JournalEntry[] = []

  constructor(o: { max?: number } = {}) {
    this.#max = o.max ?? 5000
  }

  add(e: Omit<JournalEntry, 'seq'>): JournalEntry {
    const entry = { ...e, seq: ++this.#seq }
    this.#entries.push(entry)
    if (this.#entries.length > this.#max) this.#entries = this.#entries.slice(-Math.floor(this.#max / 2))
    return entry
  }

  get lastSeq(): number {
    return this.#seq
  }

  /** Entries with seq > `afterSeq`, oldest first. */
  since(afterSeq: number): JournalEntry[] {
    if (afterSeq >= this.#seq) return []
    const i = this.#entries.findIndex((e) => e.seq > afterSeq)
    return i < 0 ? [] : this.#entries.slice(i)
  }

  /** The last `limit` entries of one station (or all), newest first. */
  recent(stationId: string | null, limit: number): JournalEntry[] {
    const out: JournalEntry[] = []
    for (let i = this.#entries.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.#entries[i] as JournalEntry
      if (stationId === null || e.stationId === stationId) out.push(e)
    }
    return out
  }
}
