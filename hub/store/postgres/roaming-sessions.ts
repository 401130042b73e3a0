/**
 * The roaming part of ChargingStore on PostgreSQL (table `roaming_sessions`):
 * sessions of this hub's vehicles at peers, their stop queue and receipts.
 * A translation of ../sqlite/roaming-sessions.ts; PgChargingStore delegates to it.
 */
import { parseTime, type Receipt } from '../../../protocol/index.js'
import type { NewRoamingSession, RoamingSessionRecord } from '../charging.js'
import { clampListLimit } from '../charging-rules.js'
import { roamingReceipt, toRoamingSession, type RoamingRow } from '../sql-rows.js'
import type { PgDatabase } from './pool.js'

export class PgRoamingSessions {
  readonly #db: PgDatabase

  constructor(db: PgDatabase) {
    this.#db = db
  }

  async add(r: NewRoamingSession): Promise<void> {
    await this.#db.query(
      "INSERT INTO roaming_sessions (session_id, hub_id, vehicle_id, station_id, started_at_ms, meter_start_wh, state) VALUES ($1, $2, $3, $4, $5, $6, 'open')",
      [r.sessionId, r.hubId, r.vehicleId, r.stationId, r.startedAtMs, r.meterStartWh],
    )
  }

  async get(sessionId: string): Promise<RoamingSessionRecord | null> {
    const row = (await this.#db.query<RoamingRow>('SELECT * FROM roaming_sessions WHERE session_id = $1', [sessionId])).rows[0]
    return row ? toRoamingSession(row) : null
  }

  async queue(sessionId: string, attempts: number, nextAtMs: number): Promise<boolean> {
    // rule: isUnsettledRoaming (charging-rules.ts): a settled session never goes back to the queue
    const res = await this.#db.query(
      "UPDATE roaming_sessions SET state = 'stopping', stop_attempts = $1, next_stop_at_ms = $2 WHERE session_id = $3 AND state IN ('open','stopping')",
      [attempts, nextAtMs, sessionId],
    )
    return (res.rowCount ?? 0) > 0
  }

  async stops(): Promise<RoamingSessionRecord[]> {
    const res = await this.#db.query<RoamingRow>("SELECT * FROM roaming_sessions WHERE state = 'stopping' ORDER BY next_stop_at_ms, session_id")
    return res.rows.map(toRoamingSession)
  }

  async settle(sessionId: string, outcome: { receipt: Receipt } | { failReason: string }): Promise<void> {
    // rule: isUnsettledRoaming (charging-rules.ts): the first settlement wins
    const sql = "UPDATE roaming_sessions SET state = $1, receipt = $2, fail_reason = $3, ended_at_ms = $4, next_stop_at_ms = NULL WHERE session_id = $5 AND state IN ('open','stopping')"
    if ('receipt' in outcome) await this.#db.query(sql, ['stopped', JSON.stringify(outcome.receipt), null, parseTime(outcome.receipt.endedAt), sessionId])
    else await this.#db.query(sql, ['failed', null, outcome.failReason, null, sessionId])
  }

  async receipts(vehicleId: string, limit: number): Promise<Receipt[]> {
    const res = await this.#db.query<{ receipt: string }>("SELECT receipt FROM roaming_sessions WHERE vehicle_id = $1 AND state = 'stopped' ORDER BY ended_at_ms DESC, session_id LIMIT $2", [vehicleId, clampListLimit(limit)])
    return res.rows.map((r) => roamingReceipt(r.receipt))
  }
}
