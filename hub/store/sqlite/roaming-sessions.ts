/**
 * The roaming part of ChargingStore on SQLite (table `roaming_sessions`):
 * sessions of this hub's vehicles at peers, their stop queue and receipts.
 * SqliteChargingStore delegates to it.
 */
import type { Database, Statement } from 'better-sqlite3'
import { parseTime, type Receipt } from '../../../protocol/index.js'
import type { NewRoamingSession, RoamingSessionRecord } from '../charging.js'
import { clampListLimit } from '../charging-rules.js'
import { roamingReceipt, toRoamingSession, type RoamingRow } from '../sql-rows.js'

export class SqliteRoamingSessions {
  readonly #s: {
    insert: Statement<[string, string, string, string, number, number]>
    get: Statement<[string], RoamingRow>
    queue: Statement<[number, number, string]>
    stops: Statement<[], RoamingRow>
    settle: Statement<[string, string | null, string | null, number | null, string]>
    receipts: Statement<[string, number], { receipt: string }>
  }

  constructor(db: Database) {
    this.#s = {
      insert: db.prepare("INSERT INTO roaming_sessions (session_id, hub_id, vehicle_id, station_id, started_at_ms, meter_start_wh, state) VALUES (?, ?, ?, ?, ?, ?, 'open')"),
      get: db.prepare('SELECT * FROM roaming_sessions WHERE session_id = ?'),
      // rule: isUnsettledRoaming (charging-rules.ts): a settled session never goes back to the queue
      queue: db.prepare("UPDATE roaming_sessions SET state = 'stopping', stop_attempts = ?, next_stop_at_ms = ? WHERE session_id = ? AND state IN ('open','stopping')"),
      stops: db.prepare("SELECT * FROM roaming_sessions WHERE state = 'stopping' ORDER BY next_stop_at_ms, session_id"),
      // rule: isUnsettledRoaming (charging-rules.ts): the first settlement wins
      settle: db.prepare(
        "UPDATE roaming_sessions SET state = ?, receipt = ?, fail_reason = ?, ended_at_ms = ?, next_stop_at_ms = NULL WHERE session_id = ? AND state IN ('open','stopping')",
      ),
      receipts: db.prepare(
        "SELECT receipt FROM roaming_sessions WHERE vehicle_id = ? AND state = 'stopped' ORDER BY ended_at_ms DESC, session_id LIMIT ?",
      ),
    }
  }

  add(r: NewRoamingSession): void {
    this.#s.insert.run(r.sessionId, r.hubId, r.vehicleId, r.stationId, r.startedAtMs, r.meterStartWh)
  }

  get(sessionId: string): RoamingSessionRecord | null {
    const row = this.#s.get.get(sessionId)
    return row ? toRoamingSession(row) : null
  }

  queue(sessionId: string, attempts: number, nextAtMs: number): boolean {
    return this.#s.queue.run(attempts, nextAtMs, sessionId).changes > 0
  }

  stops(): RoamingSessionRecord[] {
    return this.#s.stops.all().map(toRoamingSession)
  }

  settle(sessionId: string, outcome: { receipt: Receipt } | { failReason: string }): void {
    if ('receipt' in outcome) this.#s.settle.run('stopped', JSON.stringify(outcome.receipt), null, parseTime(outcome.receipt.endedAt), sessionId)
    else this.#s.settle.run('failed', null, outcome.failReason, null, sessionId)
  }

  receipts(vehicleId: string, limit: number): Receipt[] {
    return this.#s.receipts.all(vehicleId, clampListLimit(limit)).map((r) => roamingReceipt(r.receipt))
  }
}
