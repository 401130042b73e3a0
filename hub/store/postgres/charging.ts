/**
 * ChargingStore on PostgreSQL. One active session per station: the partial
 * unique index `sessions_one_active_per_station` (a replica that slips past
 * the check gets a unique violation and the active session as answer). A
 * session id that exists is refused (DUPLICATE_ID): the primary key. Each
 * station event once: the primary key (station_id, epoch, seq), and the
 * stream's ack once the retention deleted its row (isAcknowledged). A close
 * locks the session row, so a receipt is written once whichever replicas
 * close it.
 * A station's events and ack are written under that station's advisory
 * lock, so the ack never runs ahead of what is stored.
 */
import type { Receipt } from '../../../protocol/index.js'
import type { ChargingStore, CloseSessionInput, CloseSessionOutcome, NewRoamingSession, OpenSessionInput, OpenSessionOutcome, ReceiptRange, ReceiptRecord, RecordEventOutcome, RoamingSessionRecord, SessionRecord, StoredStationEvent } from '../charging.js'
import { LATEST_STREAMS_KEPT, clampListLimit, closeOutcome, isAcknowledged, isActive, nextAck } from '../charging-rules.js'
import { StoreError } from '../errors.js'
import { LOCK, type PgDatabase, type Tx } from './pool.js'
import { PgRoamingSessions } from './roaming-sessions.js'
import { toEvent, toReceipt, toSession, type EventRow, type ReceiptRow, type SessionRow } from '../sql-rows.js'

// rule: isActive (charging-rules.ts), here and in the partial unique index sessions_one_active_per_station
const ACTIVE_OF = "SELECT * FROM sessions WHERE station_id = $1 AND state IN ('starting', 'charging')"

type Queryable = Pick<Tx, 'query'>

/** The retention's batch: the oldest `$2` rows before `$1`, found by the index station_events_by_age (test/station-event-retention.test.ts checks the plan). */
export const DELETE_OLD_EVENTS = `DELETE FROM station_events WHERE (station_id, epoch, seq) IN
  (SELECT station_id, epoch, seq FROM station_events WHERE received_at_ms < $1 ORDER BY received_at_ms LIMIT $2)`

/** rule: isForgettableStream (charging-rules.ts): at most `limit` acks last used before the cutoff, oldest first. */
const FORGET_STREAMS = `DELETE FROM station_acks a
  WHERE a.used_at_ms < $1
    AND (a.station_id, a.epoch) IN (
      SELECT s.station_id, s.epoch FROM station_acks s
       WHERE s.used_at_ms < $1
         AND (SELECT COUNT(*) FROM (SELECT 1 FROM station_acks b WHERE b.station_id = s.station_id AND b.used_seq > s.used_seq LIMIT ${LATEST_STREAMS_KEPT}) k) = ${LATEST_STREAMS_KEPT}
         AND NOT EXISTS (SELECT 1 FROM station_events e WHERE e.station_id = s.station_id AND e.epoch = s.epoch)
       ORDER BY s.used_at_ms LIMIT $2)`

export class PgChargingStore implements ChargingStore {
  readonly #db: PgDatabase
  readonly #roaming: PgRoamingSessions

  constructor(db: PgDatabase) {
    this.#db = db
    this.#roaming = new PgRoamingSessions(db)
  }

  async openSession(input: OpenSessionInput): Promise<OpenSessionOutcome> {
    try {
      return await this.#db.tx(async (tx): Promise<OpenSessionOutcome> => {
        const active = await activeOf(tx, input.stationId)
        if (active) {
          // An id that exists is refused first, as the primary key refuses it on a free station.
          if (active.sessionId === input.sessionId || (await sessionOf(tx, input.sessionId))) throw new StoreError('DUPLICATE_ID', `session ${input.sessionId} exists`)
          return { ok: false, active }
        }
        const res = await tx.query<SessionRow>(
          `INSERT INTO sessions (session_id, station_id, vehicle_id, reservation_id, state, started_at_ms, max_wh, price_minor_per_kwh, currency)
           VALUES ($1, $2, $3, $4, 'starting', $5, $6, $7, $8) RETURNING *`,
          [input.sessionId, input.stationId, input.vehicleId, input.reservationId, input.startedAtMs, input.maxWh, input.priceMinorPerKwh, input.currency],
        )
        return { ok: true, session: toSession(res.rows[0] as SessionRow) }
      })
    } catch (err) {
      // The partial unique index caught a replica that opened a session on the station at the same moment
      // (unless the id itself exists: then the primary key refused it, or the check above).
      if (err instanceof StoreError && err.code === 'DUPLICATE_ID' && !(await sessionOf(this.#db, input.sessionId))) {
        const active = await activeOf(this.#db, input.stationId)
        if (active) return { ok: false, active }
      }
      throw err
    }
  }

  async markCharging(sessionId: string, meterStartWh: number, stationStartedAt?: string): Promise<SessionRecord | null> {
    // rule: the start reading is the first one stored (COALESCE), as closeOutcome reads it
    const res = await this.#db.query<SessionRow>(
      `UPDATE sessions SET state = 'charging', meter_start_wh = COALESCE(meter_start_wh, $1), station_started_at = COALESCE(station_started_at, $2)
        WHERE session_id = $3 AND state IN ('starting', 'charging') RETURNING *`,
      [meterStartWh, stationStartedAt ?? null, sessionId],
    )
    const row = res.rows[0]
    return row && isActive(toSession(row)) ? toSession(row) : null
  }

  async failSession(sessionId: string, reason: string, endedAtMs: number): Promise<void> {
    await this.#db.query(
      "UPDATE sessions SET state = 'failed', stop_reason = $1, ended_at_ms = $2 WHERE session_id = $3 AND state IN ('starting', 'charging')",
      [reason, endedAtMs, sessionId],
    )
  }

  async failStarting(sessionId: string, reason: string, endedAtMs: number): Promise<boolean> {
    const res = await this.#db.query("UPDATE sessions SET state = 'failed', stop_reason = $1, ended_at_ms = $2 WHERE session_id = $3 AND state = 'starting'", [reason, endedAtMs, sessionId])
    return res.rowCount === 1
  }

  getSession(sessionId: string): Promise<SessionRecord | null> {
    return sessionOf(this.#db, sessionId)
  }

  activeSession(stationId: string): Promise<SessionRecord | null> {
    return activeOf(this.#db, stationId)
  }

  async activeSessions(): Promise<SessionRecord[]> {
    const res = await this.#db.query<SessionRow>("SELECT * FROM sessions WHERE state IN ('starting', 'charging') ORDER BY started_at_ms, session_id")
    return res.rows.map(toSession)
  }

  closeSession(input: CloseSessionInput): Promise<CloseSessionOutcome> {
    return this.#db.tx(async (tx): Promise<CloseSessionOutcome> => {
      // The session's row lock first: two replicas closing one session serialize here, and the second finds the receipt.
      const row = (await tx.query<SessionRow>('SELECT * FROM sessions WHERE session_id = $1 FOR UPDATE', [input.sessionId])).rows[0]
      const existing = (await tx.query<ReceiptRow>('SELECT * FROM receipts WHERE session_id = $1', [input.sessionId])).rows[0]
      if (existing) return { status: 'closed', receipt: toReceipt(existing), created: false }
      if (!row) return { status: 'not_found' }
      const out = closeOutcome(toSession(row), input)
      if (out.status !== 'closed') return out
      const r = out.receipt
      await tx.query(
        `UPDATE sessions SET state = 'stopped', meter_start_wh = COALESCE(meter_start_wh, $1), meter_stop_wh = $2, ended_at_ms = $3, stop_reason = $4, station_ended_at = $5
          WHERE session_id = $6`,
        [input.meterStartWh ?? null, input.meterStopWh, r.endedAtMs, input.reason, input.stationEndedAt ?? null, input.sessionId],
      )
      await tx.query(
        `INSERT INTO receipts (session_id, station_id, vehicle_id, started_at_ms, ended_at_ms, energy_wh, price_minor_per_kwh, cost_minor, currency)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [r.sessionId, r.stationId, r.vehicleId, r.startedAtMs, r.endedAtMs, r.energyWh, r.priceMinorPerKwh, r.costMinor, r.currency],
      )
      return out
    })
  }

  async getReceipt(sessionId: string): Promise<ReceiptRecord | null> {
    const row = (await this.#db.query<ReceiptRow>('SELECT * FROM receipts WHERE session_id = $1', [sessionId])).rows[0]
    return row ? toReceipt(row) : null
  }

  async listReceipts(vehicleId: string, limit: number): Promise<ReceiptRecord[]> {
    const res = await this.#db.query<ReceiptRow>('SELECT * FROM receipts WHERE vehicle_id = $1 ORDER BY ended_at_ms DESC, session_id LIMIT $2', [vehicleId, limit])
    return res.rows.map(toReceipt)
  }

  async listReceiptsBetween(q: ReceiptRange): Promise<ReceiptRecord[]> {
    // Open bounds are NULL, so one statement serves every filter (indexes receipts_by_end, receipts_by_station_end).
    const res = await this.#db.query<ReceiptRow>(
      `SELECT * FROM receipts
       WHERE ($1::text IS NULL OR station_id = $1) AND ($2::bigint IS NULL OR ended_at_ms >= $2) AND ($3::bigint IS NULL OR ended_at_ms < $3)
       ORDER BY ended_at_ms DESC, session_id LIMIT $4`,
      [q.stationId ?? null, q.fromMs ?? null, q.toMs ?? null, clampListLimit(q.limit)],
    )
    return res.rows.map(toReceipt)
  }

  async listStationEvents(stationId: string, limit: number): Promise<StoredStationEvent[]> {
    const res = await this.#db.query<EventRow>('SELECT * FROM station_events WHERE station_id = $1 ORDER BY received_at_ms DESC, seq DESC LIMIT $2', [stationId, clampListLimit(limit)])
    return res.rows.map(toEvent)
  }

  recordEvent(stationId: string, epoch: string | null, seq: number, type: string, body: string, nowMs: number): Promise<RecordEventOutcome> {
    // '' is the epoch-less stream: NULL in a primary key would never be equal to itself in SQL.
    const ep = epoch ?? ''
    return this.#db.tx(async (tx) => {
      await tx.lockKeys(LOCK.stationEvents, [stationId])
      const acked = (await tx.query<{ acked_seq: string }>('SELECT acked_seq FROM station_acks WHERE station_id = $1 AND epoch = $2', [stationId, ep])).rows[0]?.acked_seq
      const ackedSeq = acked === undefined ? null : Number(acked)
      // Each station event once: the primary key (station_id, epoch, seq), and
      // rule: isAcknowledged (charging-rules.ts): an acknowledged event is a repeat, its row kept or deleted.
      const ins = isAcknowledged(ackedSeq, seq)
        ? null
        : await tx.query(
            'INSERT INTO station_events (station_id, epoch, seq, type, body, received_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (station_id, epoch, seq) DO NOTHING',
            [stationId, ep, seq, type, body, nowMs],
          )
      // nextAck asks about events one by one; the ones above the last ack are few (the gaps), so read them at once.
      const above = await tx.query<{ seq: string }>('SELECT seq FROM station_events WHERE station_id = $1 AND epoch = $2 AND seq > $3', [stationId, ep, ackedSeq ?? 0])
      const stored = new Set(above.rows.map((r) => Number(r.seq)))
      const out = nextAck(ackedSeq, seq, (n) => stored.has(n))
      // The stream's ack, and when and in which order the station last used it: an event stored ($5), not a
      // repeat (isForgettableStream; the station's lock above orders its writers).
      await tx.query(
        `INSERT INTO station_acks (station_id, epoch, acked_seq, used_at_ms, used_seq)
           VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(used_seq), 0) + 1 FROM station_acks WHERE station_id = $1))
         ON CONFLICT (station_id, epoch) DO UPDATE SET acked_seq = excluded.acked_seq,
           used_at_ms = CASE WHEN $5 THEN excluded.used_at_ms ELSE station_acks.used_at_ms END,
           used_seq = CASE WHEN $5 THEN excluded.used_seq ELSE station_acks.used_seq END`,
        [stationId, ep, out.ackSeq, nowMs, ins?.rowCount === 1],
      )
      return { inserted: ins?.rowCount === 1, ...out }
    })
  }

  async forgetStationStreamsUnusedSince(cutoffMs: number, limit: number): Promise<number> {
    // No station lock: a stream used meanwhile has a new used_at_ms, which the outer condition reads again on the
    // row it waited for (READ COMMITTED), so it is not forgotten; one forgotten meanwhile is simply gone.
    const res = await this.#db.query(FORGET_STREAMS, [cutoffMs, limit])
    return res.rowCount ?? 0
  }

  async deleteStationEventsOlderThan(cutoffMs: number, limit: number): Promise<number> {
    // One short statement, however large the backlog. No station lock: recordEvent reads the ack first and
    // counts on from it (isAcknowledged, nextAck), so a row deleted meanwhile changes neither the ack nor a repeat.
    const res = await this.#db.query(DELETE_OLD_EVENTS, [cutoffMs, limit])
    return res.rowCount ?? 0
  }

  // Roaming sessions of this hub's vehicles at peers: ./roaming-sessions.ts.

  addRoamingSession(input: NewRoamingSession): Promise<void> {
    return this.#roaming.add(input)
  }

  getRoamingSession(sessionId: string): Promise<RoamingSessionRecord | null> {
    return this.#roaming.get(sessionId)
  }

  queueRoamingStop(sessionId: string, attempts: number, nextAtMs: number): Promise<boolean> {
    return this.#roaming.queue(sessionId, attempts, nextAtMs)
  }

  roamingStops(): Promise<RoamingSessionRecord[]> {
    return this.#roaming.stops()
  }

  settleRoamingSession(sessionId: string, outcome: { receipt: Receipt } | { failReason: string }): Promise<void> {
    return this.#roaming.settle(sessionId, outcome)
  }

  listRoamingReceipts(vehicleId: string, limit: number): Promise<Receipt[]> {
    return this.#roaming.receipts(vehicleId, limit)
  }
}

async function activeOf(q: Queryable, stationId: string): Promise<SessionRecord | null> {
  const row = (await q.query<SessionRow>(ACTIVE_OF, [stationId])).rows[0]
  return row ? toSession(row) : null
}

async function sessionOf(q: Queryable, sessionId: string): Promise<SessionRecord | null> {
  const row = (await q.query<SessionRow>('SELECT * FROM sessions WHERE session_id = $1', [sessionId])).rows[0]
  return row ? toSession(row) : null
}
