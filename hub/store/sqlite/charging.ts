/**
 * ChargingStore on SQLite. One active session per station is enforced by a
 * partial unique index, so the check holds across processes on one file.
 * Statements are prepared once, in the constructor; each write method is one
 * `BEGIN IMMEDIATE` transaction (see ./write-batcher.ts for the write style).
 */
import type { Database, Statement, Transaction } from 'better-sqlite3'
import type { Receipt } from '../../../protocol/index.js'
import type { ChargingStore, CloseSessionInput, CloseSessionOutcome, NewRoamingSession, OpenSessionInput, OpenSessionOutcome, ReceiptRange, ReceiptRecord, RecordEventOutcome, RoamingSessionRecord, SessionRecord, StoredStationEvent } from '../charging.js'
import { LATEST_STREAMS_KEPT, clampListLimit, closeOutcome, isAcknowledged, isActive, nextAck } from '../charging-rules.js'
import { StoreError } from '../errors.js'
import { run, toStoreError } from './errors.js'
import { SqliteRoamingSessions } from './roaming-sessions.js'
import { toEvent, toReceipt, toSession, type EventRow, type ReceiptRow, type SessionRow } from '../sql-rows.js'



// Open bounds are NULL, so one statement serves every filter (indexes receipts_by_end, receipts_by_station_end).
const RECEIPTS_BETWEEN = `SELECT * FROM receipts
  WHERE (@stationId IS NULL OR station_id = @stationId) AND (@fromMs IS NULL OR ended_at_ms >= @fromMs) AND (@toMs IS NULL OR ended_at_ms < @toMs)
  ORDER BY ended_at_ms DESC, session_id LIMIT @limit`

/** The retention's batch: the oldest `limit` rows before a cutoff, found by the index station_events_by_age (test/station-event-retention.test.ts checks the plan). */
export const DELETE_OLD_EVENTS = 'DELETE FROM station_events WHERE rowid IN (SELECT rowid FROM station_events WHERE received_at_ms < ? ORDER BY received_at_ms LIMIT ?)'

/** rule: isForgettableStream (charging-rules.ts): at most `limit` acks last used before the cutoff, oldest first. */
const FORGET_STREAMS = `DELETE FROM station_acks WHERE rowid IN (
  SELECT a.rowid FROM station_acks a
   WHERE a.used_at_ms < ?
     AND (SELECT COUNT(*) FROM (SELECT 1 FROM station_acks b WHERE b.station_id = a.station_id AND b.used_seq > a.used_seq LIMIT ${LATEST_STREAMS_KEPT})) = ${LATEST_STREAMS_KEPT}
     AND NOT EXISTS (SELECT 1 FROM station_events e WHERE e.station_id = a.station_id AND e.epoch = a.epoch)
   ORDER BY a.used_at_ms LIMIT ?)`

interface RangeParams {
  stationId: string | null
  fromMs: number | null
  toMs: number | null
  limit: number
}

export class SqliteChargingStore implements ChargingStore {
  readonly #guard: () => void
  readonly #s: {
    getSession: Statement<[string], SessionRow>
    // rule: isActive (charging-rules.ts), here and in the partial unique index sessions_one_active_per_station
    activeOf: Statement<[string], SessionRow>
    active: Statement<[], SessionRow>
    insertSession: Statement<unknown[]>
    markCharging: Statement<[number, string | null, string]>
    fail: Statement<[string, number, string]>
    failStarting: Statement<[string, number, string]>
    getReceipt: Statement<[string], ReceiptRow>
    listReceipts: Statement<[string, number], ReceiptRow>
    receiptsBetween: Statement<[RangeParams], ReceiptRow>
    stationEvents: Statement<[string, number], EventRow>
    stopSession: Statement<unknown[]>
    insertReceipt: Statement<unknown[]>
    insertEvent: Statement<[string, string, number, string, string, number]>
    getAck: Statement<[string, string], { acked_seq: number }>
    hasEvent: Statement<[string, string, number], { 1: number }>
    setAck: Statement<[{ stationId: string; epoch: string; ackSeq: number; nowMs: number; used: number }]>
    forgetStreams: Statement<[number, number]>
    deleteOldEvents: Statement<[number, number]>
  }
  readonly #openTx: Transaction<(input: OpenSessionInput) => OpenSessionOutcome>
  readonly #closeTx: Transaction<(input: CloseSessionInput) => CloseSessionOutcome>
  readonly #eventTx: Transaction<(stationId: string, epoch: string, seq: number, type: string, body: string, nowMs: number) => RecordEventOutcome>
  readonly #roaming: SqliteRoamingSessions

  constructor(db: Database, guard: () => void) {
    this.#guard = guard
    this.#roaming = new SqliteRoamingSessions(db)
    this.#s = {
      getSession: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE session_id = ?'),
      activeOf: db.prepare<[string], SessionRow>("SELECT * FROM sessions WHERE station_id = ? AND state IN ('starting','charging')"),
      active: db.prepare<[], SessionRow>("SELECT * FROM sessions WHERE state IN ('starting','charging') ORDER BY started_at_ms"),
      insertSession: db.prepare(
        `INSERT INTO sessions (session_id, station_id, vehicle_id, reservation_id, state, started_at_ms, max_wh, price_minor_per_kwh, currency)
         VALUES (?, ?, ?, ?, 'starting', ?, ?, ?, ?)`,
      ),
      // rule: the start reading is the first one stored (COALESCE), as closeOutcome reads it
      markCharging: db.prepare<[number, string | null, string]>(
        `UPDATE sessions SET state = 'charging', meter_start_wh = COALESCE(meter_start_wh, ?), station_started_at = COALESCE(station_started_at, ?)
         WHERE session_id = ? AND state IN ('starting','charging')`,
      ),
      fail: db.prepare<[string, number, string]>(
        "UPDATE sessions SET state = 'failed', stop_reason = ?, ended_at_ms = ? WHERE session_id = ? AND state IN ('starting','charging')",
      ),
      failStarting: db.prepare<[string, number, string]>("UPDATE sessions SET state = 'failed', stop_reason = ?, ended_at_ms = ? WHERE session_id = ? AND state = 'starting'"),
      getReceipt: db.prepare<[string], ReceiptRow>('SELECT * FROM receipts WHERE session_id = ?'),
      listReceipts: db.prepare<[string, number], ReceiptRow>('SELECT * FROM receipts WHERE vehicle_id = ? ORDER BY ended_at_ms DESC, session_id LIMIT ?'),
      receiptsBetween: db.prepare<[RangeParams], ReceiptRow>(RECEIPTS_BETWEEN),
      stationEvents: db.prepare<[string, number], EventRow>('SELECT * FROM station_events WHERE station_id = ? ORDER BY received_at_ms DESC, seq DESC LIMIT ?'),
      stopSession: db.prepare(
        `UPDATE sessions SET state = 'stopped', meter_start_wh = COALESCE(meter_start_wh, ?), meter_stop_wh = ?, ended_at_ms = ?, stop_reason = ?, station_ended_at = ?
         WHERE session_id = ?`,
      ),
      insertReceipt: db.prepare(
        `INSERT INTO receipts (session_id, station_id, vehicle_id, started_at_ms, ended_at_ms, energy_wh, price_minor_per_kwh, cost_minor, currency)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertEvent: db.prepare<[string, string, number, string, string, number]>(
        'INSERT OR IGNORE INTO station_events (station_id, epoch, seq, type, body, received_at_ms) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      getAck: db.prepare<[string, string], { acked_seq: number }>('SELECT acked_seq FROM station_acks WHERE station_id = ? AND epoch = ?'),
      hasEvent: db.prepare<[string, string, number], { 1: number }>('SELECT 1 FROM station_events WHERE station_id = ? AND epoch = ? AND seq = ?'),
      // The stream's ack, and when and in which order the station last used it: an event stored (@used 1), not a repeat (isForgettableStream).
      setAck: db.prepare<[{ stationId: string; epoch: string; ackSeq: number; nowMs: number; used: number }]>(
        `INSERT INTO station_acks (station_id, epoch, acked_seq, used_at_ms, used_seq)
           VALUES (@stationId, @epoch, @ackSeq, @nowMs, (SELECT COALESCE(MAX(used_seq), 0) + 1 FROM station_acks WHERE station_id = @stationId))
         ON CONFLICT (station_id, epoch) DO UPDATE SET acked_seq = excluded.acked_seq,
           used_at_ms = CASE WHEN @used = 1 THEN excluded.used_at_ms ELSE station_acks.used_at_ms END,
           used_seq = CASE WHEN @used = 1 THEN excluded.used_seq ELSE station_acks.used_seq END`,
      ),
      forgetStreams: db.prepare<[number, number]>(FORGET_STREAMS),
      // One short write, however large the backlog.
      deleteOldEvents: db.prepare<[number, number]>(DELETE_OLD_EVENTS),
    }
    this.#openTx = db.transaction((input: OpenSessionInput): OpenSessionOutcome => {
      // Checked first: the id's own session may be the station's active one (a request's session opened again).
      if (this.#session(input.sessionId)) throw new StoreError('DUPLICATE_ID', `session ${input.sessionId} exists`)
      const active = this.#active(input.stationId)
      if (active) return { ok: false, active }
      this.#s.insertSession.run(input.sessionId, input.stationId, input.vehicleId, input.reservationId, input.startedAtMs, input.maxWh, input.priceMinorPerKwh, input.currency)
      return { ok: true, session: this.#session(input.sessionId) as SessionRecord }
    })
    this.#closeTx = db.transaction((input: CloseSessionInput): CloseSessionOutcome => {
      const existing = this.#s.getReceipt.get(input.sessionId)
      if (existing) return { status: 'closed', receipt: toReceipt(existing), created: false }
      const s = this.#session(input.sessionId)
      if (!s) return { status: 'not_found' }
      const out = closeOutcome(s, input)
      if (out.status !== 'closed') return out
      const r = out.receipt
      this.#s.stopSession.run(input.meterStartWh ?? null, input.meterStopWh, r.endedAtMs, input.reason, input.stationEndedAt ?? null, input.sessionId)
      this.#s.insertReceipt.run(r.sessionId, r.stationId, r.vehicleId, r.startedAtMs, r.endedAtMs, r.energyWh, r.priceMinorPerKwh, r.costMinor, r.currency)
      return out
    })
    this.#eventTx = db.transaction((stationId: string, epoch: string, seq: number, type: string, body: string, nowMs: number): RecordEventOutcome => {
      const acked = this.#s.getAck.get(stationId, epoch)?.acked_seq ?? null
      // rule: isAcknowledged (charging-rules.ts): an acknowledged event is a repeat, its row kept or deleted
      const inserted = !isAcknowledged(acked, seq) && this.#s.insertEvent.run(stationId, epoch, seq, type, body, nowMs).changes === 1
      const out = nextAck(acked, seq, (n) => this.#s.hasEvent.get(stationId, epoch, n) !== undefined)
      this.#s.setAck.run({ stationId, epoch, ackSeq: out.ackSeq, nowMs, used: inserted ? 1 : 0 })
      return { inserted, ...out }
    })
  }

  #session(id: string): SessionRecord | null {
    const row = this.#s.getSession.get(id)
    return row ? toSession(row) : null
  }

  #active(stationId: string): SessionRecord | null {
    const row = this.#s.activeOf.get(stationId)
    return row ? toSession(row) : null
  }

  openSession(input: OpenSessionInput): Promise<OpenSessionOutcome> {
    return run(() => {
      this.#guard()
      try {
        return this.#openTx.immediate(input)
      } catch (err) {
        // The partial unique index caught a writer that slipped past the check in another process
        // (unless the id itself exists: then the primary key or the check above refused it).
        const e = toStoreError(err)
        if (e.code === 'DUPLICATE_ID' && !this.#session(input.sessionId)) {
          const active = this.#active(input.stationId)
          if (active) return { ok: false, active }
        }
        throw e
      }
    })
  }

  markCharging(sessionId: string, meterStartWh: number, stationStartedAt?: string): Promise<SessionRecord | null> {
    return run(() => {
      this.#guard()
      this.#s.markCharging.run(meterStartWh, stationStartedAt ?? null, sessionId)
      const s = this.#session(sessionId)
      return s && isActive(s) ? s : null
    })
  }

  failSession(sessionId: string, reason: string, endedAtMs: number): Promise<void> {
    return run(() => {
      this.#guard()
      this.#s.fail.run(reason, endedAtMs, sessionId)
    })
  }

  failStarting(sessionId: string, reason: string, endedAtMs: number): Promise<boolean> {
    return run(() => {
      this.#guard()
      return this.#s.failStarting.run(reason, endedAtMs, sessionId).changes === 1
    })
  }

  getSession(sessionId: string): Promise<SessionRecord | null> {
    return run(() => {
      this.#guard()
      return this.#session(sessionId)
    })
  }

  activeSession(stationId: string): Promise<SessionRecord | null> {
    return run(() => {
      this.#guard()
      return this.#active(stationId)
    })
  }

  activeSessions(): Promise<SessionRecord[]> {
    return run(() => {
      this.#guard()
      return this.#s.active.all().map(toSession)
    })
  }

  closeSession(input: CloseSessionInput): Promise<CloseSessionOutcome> {
    return run(() => {
      this.#guard()
      return this.#closeTx.immediate(input)
    })
  }

  getReceipt(sessionId: string): Promise<ReceiptRecord | null> {
    return run(() => {
      this.#guard()
      const row = this.#s.getReceipt.get(sessionId)
      return row ? toReceipt(row) : null
    })
  }

  listReceipts(vehicleId: string, limit: number): Promise<ReceiptRecord[]> {
    return run(() => {
      this.#guard()
      return this.#s.listReceipts.all(vehicleId, limit).map(toReceipt)
    })
  }

  listReceiptsBetween(q: ReceiptRange): Promise<ReceiptRecord[]> {
    return run(() => {
      this.#guard()
      return this.#s.receiptsBetween.all({ stationId: q.stationId ?? null, fromMs: q.fromMs ?? null, toMs: q.toMs ?? null, limit: clampListLimit(q.limit) }).map(toReceipt)
    })
  }

  listStationEvents(stationId: string, limit: number): Promise<StoredStationEvent[]> {
    return run(() => {
      this.#guard()
      return this.#s.stationEvents.all(stationId, clampListLimit(limit)).map(toEvent)
    })
  }

  recordEvent(stationId: string, epoch: string | null, seq: number, type: string, body: string, nowMs: number): Promise<RecordEventOutcome> {
    return run(() => {
      this.#guard()
      // '' is the epoch-less stream: NULL in a primary key would never be equal to itself in SQL.
      return this.#eventTx.immediate(stationId, epoch ?? '', seq, type, body, nowMs)
    })
  }

  deleteStationEventsOlderThan(cutoffMs: number, limit: number): Promise<number> {
    return run(() => {
      this.#guard()
      return this.#s.deleteOldEvents.run(cutoffMs, limit).changes
    })
  }

  forgetStationStreamsUnusedSince(cutoffMs: number, limit: number): Promise<number> {
    return run(() => {
      this.#guard()
      return this.#s.forgetStreams.run(cutoffMs, limit).changes
    })
  }

  addRoamingSession(input: NewRoamingSession): Promise<void> {
    return this.#r((r) => r.add(input))
  }

  getRoamingSession(sessionId: string): Promise<RoamingSessionRecord | null> {
    return this.#r((r) => r.get(sessionId))
  }

  queueRoamingStop(sessionId: string, attempts: number, nextAtMs: number): Promise<boolean> {
    return this.#r((r) => r.queue(sessionId, attempts, nextAtMs))
  }

  roamingStops(): Promise<RoamingSessionRecord[]> {
    return this.#r((r) => r.stops())
  }

  settleRoamingSession(sessionId: string, outcome: { receipt: Receipt } | { failReason: string }): Promise<void> {
    return this.#r((r) => r.settle(sessionId, outcome))
  }

  listRoamingReceipts(vehicleId: string, limit: number): Promise<Receipt[]> {
    return this.#r((r) => r.receipts(vehicleId, limit))
  }

  #r<T>(work: (r: SqliteRoamingSessions) => T): Promise<T> {
    return run(() => {
      this.#guard()
      return work(this.#roaming)
    })
  }
}
