/**
 * ChargingStore on SQLite. One active session per station is enforced by a
 * partial unique index, so the check holds across processes on one file.
 */
import type { Database } from 'better-sqlite3'
import type { ChargingStore, CloseSessionInput, CloseSessionOutcome, OpenSessionInput, OpenSessionOutcome, ReceiptRecord, RecordEventOutcome, SessionRecord, SessionState } from '../charging.js'
import { closeOutcome } from '../charging-rules.js'
import { run, toStoreError } from './errors.js'

interface SessionRow {
  session_id: string
  station_id: string
  vehicle_id: string
  reservation_id: string | null
  state: SessionState
  started_at_ms: number
  max_wh: number | null
  meter_start_wh: number | null
  meter_stop_wh: number | null
  ended_at_ms: number | null
  stop_reason: string | null
  station_started_at: string | null
  station_ended_at: string | null
  price_minor_per_kwh: number
  currency: string
}

interface ReceiptRow {
  session_id: string
  station_id: string
  vehicle_id: string
  started_at_ms: number
  ended_at_ms: number
  energy_wh: number
  price_minor_per_kwh: number
  cost_minor: number
  currency: string
}

const toSession = (r: SessionRow): SessionRecord => ({
  sessionId: r.session_id,
  stationId: r.station_id,
  vehicleId: r.vehicle_id,
  reservationId: r.reservation_id,
  state: r.state,
  startedAtMs: r.started_at_ms,
  maxWh: r.max_wh,
  meterStartWh: r.meter_start_wh,
  meterStopWh: r.meter_stop_wh,
  endedAtMs: r.ended_at_ms,
  stopReason: r.stop_reason,
  stationStartedAt: r.station_started_at,
  stationEndedAt: r.station_ended_at,
  priceMinorPerKwh: r.price_minor_per_kwh,
  currency: r.currency,
})

const toReceipt = (r: ReceiptRow): ReceiptRecord => ({
  sessionId: r.session_id,
  stationId: r.station_id,
  vehicleId: r.vehicle_id,
  startedAtMs: r.started_at_ms,
  endedAtMs: r.ended_at_ms,
  energyWh: r.energy_wh,
  priceMinorPerKwh: r.price_minor_per_kwh,
  costMinor: r.cost_minor,
  currency: r.currency,
})

export class SqliteChargingStore implements ChargingStore {
  readonly #db: Database
  readonly #guard: () => void

  constructor(db: Database, guard: () => void) {
    this.#db = db
    this.#guard = guard
  }

  #session(id: string): SessionRecord | null {
    const row = this.#db.prepare('SELECT * FROM sessions WHERE session_id = ?').get(id) as SessionRow | undefined
    return row ? toSession(row) : null
  }

  #active(stationId: string): SessionRecord | null {
    const row = this.#db.prepare("SELECT * FROM sessions WHERE station_id = ? AND state IN ('starting','charging')").get(stationId) as SessionRow | undefined
    return row ? toSession(row) : null
  }

  openSession(input: OpenSessionInput): Promise<OpenSessionOutcome> {
    return run(() => {
      this.#guard()
      const tx = this.#db.transaction((): OpenSessionOutcome => {
        const active = this.#active(input.stationId)
        if (active) return { ok: false, active }
        this.#db
          .prepare(
            `INSERT INTO sessions (session_id, station_id, vehicle_id, reservation_id, state, started_at_ms, max_wh, price_minor_per_kwh, currency)
             VALUES (?, ?, ?, ?, 'starting', ?, ?, ?, ?)`,
          )
          .run(input.sessionId, input.stationId, input.vehicleId, input.reservationId, input.startedAtMs, input.maxWh, input.priceMinorPerKwh, input.currency)
        return { ok: true, session: this.#session(input.sessionId) as SessionRecord }
      })
      try {
        return tx.immediate()
      } catch (err) {
        // The partial unique index caught a writer that slipped past the check in another process.
        const e = toStoreError(err)
        if (e.code === 'DUPLICATE_ID') {
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
      this.#db
        .prepare(
          `UPDATE sessions SET state = 'charging', meter_start_wh = COALESCE(meter_start_wh, ?), station_started_at = COALESCE(station_started_at, ?)
           WHERE session_id = ? AND state IN ('starting','charging')`,
        )
        .run(meterStartWh, stationStartedAt ?? null, sessionId)
      const s = this.#session(sessionId)
      return s && (s.state === 'charging' || s.state === 'starting') ? s : null
    })
  }

  failSession(sessionId: string, reason: string, endedAtMs: number): Promise<void> {
    return run(() => {
      this.#guard()
      this.#db.prepare("UPDATE sessions SET state = 'failed', stop_reason = ?, ended_at_ms = ? WHERE session_id = ? AND state IN ('starting','charging')").run(reason, endedAtMs, sessionId)
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
      return (this.#db.prepare("SELECT * FROM sessions WHERE state IN ('starting','charging') ORDER BY started_at_ms").all() as SessionRow[]).map(toSession)
    })
  }

  closeSession(input: CloseSessionInput): Promise<CloseSessionOutcome> {
    return run(() => {
      this.#guard()
      const tx = this.#db.transaction((): CloseSessionOutcome => {
        const existing = this.#db.prepare('SELECT * FROM receipts WHERE session_id = ?').get(input.sessionId) as ReceiptRow | undefined
        if (existing) return { status: 'closed', receipt: toReceipt(existing), created: false }
        const s = this.#session(input.sessionId)
        if (!s) return { status: 'not_found' }
        const out = closeOutcome(s, input)
        if (out.status !== 'closed') return out
        const r = out.receipt
        this.#db
          .prepare(
            `UPDATE sessions SET state = 'stopped', meter_start_wh = COALESCE(meter_start_wh, ?), meter_stop_wh = ?, ended_at_ms = ?, stop_reason = ?, station_ended_at = ?
             WHERE session_id = ?`,
          )
          .run(input.meterStartWh ?? null, input.meterStopWh, r.endedAtMs, input.reason, input.stationEndedAt ?? null, input.sessionId)
        this.#db
          .prepare(
            `INSERT INTO receipts (session_id, station_id, vehicle_id, started_at_ms, ended_at_ms, energy_wh, price_minor_per_kwh, cost_minor, currency)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(r.sessionId, r.stationId, r.vehicleId, r.startedAtMs, r.endedAtMs, r.energyWh, r.priceMinorPerKwh, r.costMinor, r.currency)
        return out
      })
      return tx.immediate()
    })
  }

  getReceipt(sessionId: string): Promise<ReceiptRecord | null> {
    return run(() => {
      this.#guard()
      const row = this.#db.prepare('SELECT * FROM receipts WHERE session_id = ?').get(sessionId) as ReceiptRow | undefined
      return row ? toReceipt(row) : null
    })
  }

  listReceipts(vehicleId: string, limit: number): Promise<ReceiptRecord[]> {
    return run(() => {
      this.#guard()
      const rows = this.#db.prepare('SELECT * FROM receipts WHERE vehicle_id = ? ORDER BY ended_at_ms DESC, session_id LIMIT ?').all(vehicleId, limit) as ReceiptRow[]
      return rows.map(toReceipt)
    })
  }

  recordEvent(stationId: string, seq: number, type: string, body: string, nowMs: number): Promise<RecordEventOutcome> {
    return run(() => {
      this.#guard()
      const tx = this.#db.transaction((): RecordEventOutcome => {
        const ins = this.#db.prepare('INSERT OR IGNORE INTO station_events (station_id, seq, type, body, received_at_ms) VALUES (?, ?, ?, ?, ?)').run(stationId, seq, type, body, nowMs)
        const row = this.#db.prepare('SELECT acked_seq FROM station_acks WHERE station_id = ?').get(stationId) as { acked_seq: number } | undefined
        // The first event ever seen from a station sets the base: earlier ones were acknowledged before this database existed.
        let acked = row ? row.acked_seq : seq - 1
        const next = this.#db.prepare('SELECT 1 FROM station_events WHERE station_id = ? AND seq = ?')
        while (next.get(stationId, acked + 1)) acked++
        this.#db.prepare('INSERT INTO station_acks (station_id, acked_seq) VALUES (?, ?) ON CONFLICT (station_id) DO UPDATE SET acked_seq = excluded.acked_seq').run(stationId, acked)
        return { inserted: ins.changes === 1, ackSeq: acked }
      })
      return tx.immediate()
    })
  }
}
