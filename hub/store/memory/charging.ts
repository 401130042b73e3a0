/** ChargingStore in memory: the same contract as SQLite, for unit tests. */
import { parseTime, type Receipt } from '../../../protocol/index.js'
import type { ChargingStore, CloseSessionInput, CloseSessionOutcome, NewRoamingSession, OpenSessionInput, OpenSessionOutcome, ReceiptRange, ReceiptRecord, RecordEventOutcome, RoamingSessionRecord, SessionRecord, StoredStationEvent } from '../charging.js'
import { LATEST_STREAMS_KEPT, clampListLimit, closeOutcome, inReceiptRange, isAcknowledged, isActive, isForgettableStream, isUnsettledRoaming, nextAck } from '../charging-rules.js'
import { StoreError } from '../errors.js'

export class MemoryChargingStore implements ChargingStore {
  #sessions = new Map<string, SessionRecord>()
  #receipts = new Map<string, ReceiptRecord>()
  /** Per stream (station, epoch): the stored events by seq. */
  #events = new Map<string, Map<number, StoredStationEvent>>()
  #acked = new Map<string, number>()
  /** Per stream with an ack: its station, and when (hub time) and in which order it was last used (isForgettableStream). */
  #used = new Map<string, { stationId: string; atMs: number; seq: number }>()
  /** Per station: its most recent use (the order of its stored events). */
  #lastUse = new Map<string, number>()
  #roaming = new Map<string, RoamingSessionRecord>()

  constructor(private readonly guard: () => void) {}

  reset(): void {
    this.#sessions.clear()
    this.#receipts.clear()
    this.#events.clear()
    this.#acked.clear()
    this.#used.clear()
    this.#lastUse.clear()
    this.#roaming.clear()
  }

  async openSession(input: OpenSessionInput): Promise<OpenSessionOutcome> {
    this.guard()
    if (this.#sessions.has(input.sessionId)) throw new StoreError('DUPLICATE_ID', `session ${input.sessionId} exists`)
    const active = [...this.#sessions.values()].find((s) => s.stationId === input.stationId && isActive(s))
    if (active) return { ok: false, active: { ...active } }
    const session: SessionRecord = { ...input, state: 'starting', meterStartWh: null, meterStopWh: null, endedAtMs: null, stopReason: null, stationStartedAt: null, stationEndedAt: null }
    this.#sessions.set(session.sessionId, session)
    return { ok: true, session: { ...session } }
  }

  async markCharging(sessionId: string, meterStartWh: number, stationStartedAt?: string): Promise<SessionRecord | null> {
    this.guard()
    const s = this.#sessions.get(sessionId)
    if (!s || !isActive(s)) return null
    s.state = 'charging'
    s.meterStartWh ??= meterStartWh
    s.stationStartedAt ??= stationStartedAt ?? null
    return { ...s }
  }

  async failSession(sessionId: string, reason: string, endedAtMs: number): Promise<void> {
    this.guard()
    const s = this.#sessions.get(sessionId)
    if (!s || !isActive(s)) return
    Object.assign(s, { state: 'failed', stopReason: reason, endedAtMs })
  }

  async failStarting(sessionId: string, reason: string, endedAtMs: number): Promise<boolean> {
    this.guard()
    const s = this.#sessions.get(sessionId)
    if (s?.state !== 'starting') return false
    Object.assign(s, { state: 'failed', stopReason: reason, endedAtMs })
    return true
  }

  async getSession(sessionId: string): Promise<SessionRecord | null> {
    this.guard()
    const s = this.#sessions.get(sessionId)
    return s ? { ...s } : null
  }

  async activeSession(stationId: string): Promise<SessionRecord | null> {
    this.guard()
    const s = [...this.#sessions.values()].find((x) => x.stationId === stationId && isActive(x))
    return s ? { ...s } : null
  }

  async activeSessions(): Promise<SessionRecord[]> {
    this.guard()
    return [...this.#sessions.values()].filter(isActive).map((s) => ({ ...s }))
  }

  async closeSession(input: CloseSessionInput): Promise<CloseSessionOutcome> {
    this.guard()
    const s = this.#sessions.get(input.sessionId)
    if (!s) return { status: 'not_found' }
    const existing = this.#receipts.get(input.sessionId)
    if (existing) return { status: 'closed', receipt: { ...existing }, created: false }
    const out = closeOutcome(s, input)
    if (out.status !== 'closed') return out
    Object.assign(s, {
      state: 'stopped',
      meterStartWh: s.meterStartWh ?? input.meterStartWh ?? null,
      meterStopWh: input.meterStopWh,
      endedAtMs: out.receipt.endedAtMs,
      stopReason: input.reason,
      stationEndedAt: input.stationEndedAt ?? null,
    })
    this.#receipts.set(s.sessionId, out.receipt)
    return { status: 'closed', receipt: { ...out.receipt }, created: true }
  }

  async getReceipt(sessionId: string): Promise<ReceiptRecord | null> {
    this.guard()
    const r = this.#receipts.get(sessionId)
    return r ? { ...r } : null
  }

  async listReceipts(vehicleId: string, limit: number): Promise<ReceiptRecord[]> {
    this.guard()
    return [...this.#receipts.values()]
      .filter((r) => r.vehicleId === vehicleId)
      .sort(newestReceiptFirst)
      .slice(0, limit)
      .map((r) => ({ ...r }))
  }

  async listReceiptsBetween(q: ReceiptRange): Promise<ReceiptRecord[]> {
    this.guard()
    return [...this.#receipts.values()]
      .filter((r) => inReceiptRange(r, q))
      .sort(newestReceiptFirst)
      .slice(0, clampListLimit(q.limit))
      .map((r) => ({ ...r }))
  }

  async listStationEvents(stationId: string, limit: number): Promise<StoredStationEvent[]> {
    this.guard()
    return [...this.#events.values()]
      .flatMap((stream) => [...stream.values()].filter((e) => e.stationId === stationId))
      .sort((a, b) => b.receivedAtMs - a.receivedAtMs || b.seq - a.seq)
      .slice(0, clampListLimit(limit))
      .map((e) => ({ ...e }))
  }

  async recordEvent(stationId: string, epoch: string | null, seq: number, type: string, body: string, nowMs: number): Promise<RecordEventOutcome> {
    this.guard()
    // One stream per (station, epoch); '' is the epoch-less stream (no id can be empty).
    const stream = `${stationId}\u0000${epoch ?? ''}`
    let seen = this.#events.get(stream)
    if (!seen) this.#events.set(stream, (seen = new Map()))
    const acked = this.#acked.get(stream) ?? null
    const inserted = !isAcknowledged(acked, seq) && !seen.has(seq)
    if (inserted) seen.set(seq, { stationId, epoch, seq, type, body, receivedAtMs: nowMs })
    const out = nextAck(acked, seq, (n) => seen.has(n))
    this.#acked.set(stream, out.ackSeq)
    // Used: an event stored, not a repeat (isForgettableStream); a stream's first ack counts as a use too.
    if (inserted || !this.#used.has(stream)) {
      const order = (this.#lastUse.get(stationId) ?? 0) + 1
      this.#lastUse.set(stationId, order)
      this.#used.set(stream, { stationId, atMs: nowMs, seq: order })
    }
    return { inserted, ...out }
  }

  async forgetStationStreamsUnusedSince(cutoffMs: number, limit: number): Promise<number> {
    this.guard()
    const newer = this.#newerCounts()
    const gone = [...this.#used]
      .filter(([stream, u]) => isForgettableStream({ usedAtMs: u.atMs, newer: newer.get(stream) ?? 0, hasEvents: (this.#events.get(stream)?.size ?? 0) > 0 }, cutoffMs))
      .sort((a, b) => a[1].atMs - b[1].atMs)
      .slice(0, Math.max(0, limit))
    for (const [stream] of gone) {
      this.#used.delete(stream)
      this.#acked.delete(stream)
      this.#events.delete(stream)
    }
    return gone.length
  }

  /**
   * For each stream, how many of its station's streams were used after it, counted up to LATEST_STREAMS_KEPT:
   * each station's streams sorted once, newest first (O(n log n) for n streams, not a scan per stream).
   */
  #newerCounts(): Map<string, number> {
    const byStation = new Map<string, Array<{ stream: string; seq: number }>>()
    for (const [stream, u] of this.#used) {
      const list = byStation.get(u.stationId)
      if (list) list.push({ stream, seq: u.seq })
      else byStation.set(u.stationId, [{ stream, seq: u.seq }])
    }
    const counts = new Map<string, number>()
    for (const list of byStation.values()) {
      list.sort((a, b) => b.seq - a.seq)
      // Streams used at the same seq count none of each other: each counts those before the first of its seq.
      let firstOfSeq = 0
      list.forEach((x, i) => {
        if (i > 0 && x.seq !== (list[i - 1] as { seq: number }).seq) firstOfSeq = i
        counts.set(x.stream, Math.min(firstOfSeq, LATEST_STREAMS_KEPT))
      })
    }
    return counts
  }

  async deleteStationEventsOlderThan(cutoffMs: number, limit: number): Promise<number> {
    this.guard()
    const old = [...this.#events.values()]
      .flatMap((stream) => [...stream.values()].filter((e) => e.receivedAtMs < cutoffMs).map((e) => ({ stream, e })))
      .sort((a, b) => a.e.receivedAtMs - b.e.receivedAtMs)
      .slice(0, Math.max(0, limit))
    for (const { stream, e } of old) stream.delete(e.seq)
    return old.length
  }

  async addRoamingSession(input: NewRoamingSession): Promise<void> {
    this.guard()
    if (this.#roaming.has(input.sessionId)) throw new StoreError('DUPLICATE_ID', `roaming session ${input.sessionId} exists`)
    this.#roaming.set(input.sessionId, { ...input, state: 'open', stopAttempts: 0, nextStopAtMs: null, receipt: null, failReason: null })
  }

  async getRoamingSession(sessionId: string): Promise<RoamingSessionRecord | null> {
    this.guard()
    const r = this.#roaming.get(sessionId)
    return r ? copyRoaming(r) : null
  }

  async queueRoamingStop(sessionId: string, attempts: number, nextAtMs: number): Promise<boolean> {
    this.guard()
    const r = this.#roaming.get(sessionId)
    if (!r || !isUnsettledRoaming(r)) return false
    Object.assign(r, { state: 'stopping', stopAttempts: attempts, nextStopAtMs: nextAtMs })
    return true
  }

  async roamingStops(): Promise<RoamingSessionRecord[]> {
    this.guard()
    return [...this.#roaming.values()]
      .filter((r) => r.state === 'stopping')
      .sort((a, b) => (a.nextStopAtMs ?? 0) - (b.nextStopAtMs ?? 0) || (a.sessionId < b.sessionId ? -1 : 1))
      .map(copyRoaming)
  }

  async settleRoamingSession(sessionId: string, outcome: { receipt: Receipt } | { failReason: string }): Promise<void> {
    this.guard()
    const r = this.#roaming.get(sessionId)
    if (!r || !isUnsettledRoaming(r)) return
    if ('receipt' in outcome) Object.assign(r, { state: 'stopped', receipt: { ...outcome.receipt }, nextStopAtMs: null })
    else Object.assign(r, { state: 'failed', failReason: outcome.failReason, nextStopAtMs: null })
  }

  async listRoamingReceipts(vehicleId: string, limit: number): Promise<Receipt[]> {
    this.guard()
    return [...this.#roaming.values()]
      .flatMap((r) => (r.vehicleId === vehicleId && r.receipt ? [r.receipt] : []))
      .sort((a, b) => parseTime(b.endedAt) - parseTime(a.endedAt) || (a.sessionId < b.sessionId ? -1 : 1))
      .slice(0, clampListLimit(limit))
      .map((r) => ({ ...r }))
  }
}

const copyRoaming = (r: RoamingSessionRecord): RoamingSessionRecord => ({ ...r, receipt: r.receipt ? { ...r.receipt } : null })

const newestReceiptFirst = (a: ReceiptRecord, b: ReceiptRecord): number => b.endedAtMs - a.endedAtMs || (a.sessionId < b.sessionId ? -1 : 1)
