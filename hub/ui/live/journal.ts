/**
 * What happened at the stations, newest last, for the dashboard: faults,
 * sessions starting and stopping, clock skew, operator actions, and the
 * receipts the hub closed. Two bounded rings in memory (the journal and the
 * receipts); a hub restart starts them empty. Each entry has a rising `seq`
 * so the live feed sends only what is new.
 */
import type { ReceiptRecord } from '../../store/index.js'

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
  readonly #maxReceipts: number
  #seq = 0
  #entries: JournalEntry[] = []
  #receipts: ReceiptRecord[] = []

  constructor(o: { max?: number; maxReceipts?: number } = {}) {
    this.#max = o.max ?? 5000
    this.#maxReceipts = o.maxReceipts ?? 10_000
  }

  add(e: Omit<JournalEntry, 'seq'>): JournalEntry {
    const entry = { ...e, seq: ++this.#seq }
    this.#entries.push(entry)
    if (this.#entries.length > this.#max) this.#entries = this.#entries.slice(-Math.floor(this.#max / 2))
    return entry
  }

  addReceipt(r: ReceiptRecord): void {
    if (this.#receipts.some((x) => x.sessionId === r.sessionId)) return
    this.#receipts.push(r)
    if (this.#receipts.length > this.#maxReceipts) this.#receipts = this.#receipts.slice(-Math.floor(this.#maxReceipts / 2))
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

  /** Receipts newest first, filtered by station and by `[fromMs, toMs)` of their end. */
  receipts(f: { stationId?: string; fromMs?: number; toMs?: number; limit: number }): ReceiptRecord[] {
    const out: ReceiptRecord[] = []
    for (let i = this.#receipts.length - 1; i >= 0 && out.length < f.limit; i--) {
      const r = this.#receipts[i] as ReceiptRecord
      if (f.stationId !== undefined && r.stationId !== f.stationId) continue
      if (f.fromMs !== undefined && r.endedAtMs < f.fromMs) continue
      if (f.toMs !== undefined && r.endedAtMs >= f.toMs) continue
      out.push(r)
    }
    return out
  }
}
