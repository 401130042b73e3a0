/**
 * Charging sessions, station events and receipts.
 *
 * Contract (besides the general one in ./types.ts):
 * - At most one ACTIVE session (`starting` or `charging`) per station, ever:
 *   `openSession` checks and inserts in one transaction, so two vehicles (or
 *   two hub replicas) starting the same station at once get one winner.
 * - A session id is opened once: `openSession` with an id that exists (in any
 *   state, at any station) rejects with StoreError('DUPLICATE_ID') and changes
 *   nothing, also when two processes open it at once.
 * - `closeSession` writes the session's end and its receipt once; calling it
 *   again resolves the same receipt and changes nothing. The energy of a
 *   receipt is `meterStopWh - meterStartWh` of that session, never a meter's
 *   lifetime register; a missing start reading or a stop reading below it is
 *   refused (`{fault}`), never billed (docs/design.md, Billing).
 * - The start reading is the FIRST one stored for the session: `markCharging`
 *   and `closeSession`'s `meterStartWh` never replace a reading already there.
 * - Every `...AtMs` is the hub's clock (when the hub opened, heard or closed
 *   the session); a receipt never ends before it starts. What the station's
 *   own clock said is kept apart, as reported (`stationStartedAt`,
 *   `stationEndedAt`), and decides nothing.
 * - `recordEvent` stores each `(stationId, epoch, seq)` once (epoch null: the
 *   station's epoch-less events); it answers whether the event is new, the
 *   highest seq that can be acknowledged (every event of that station and
 *   epoch from 1 up to it is stored) and, when the hub lacks an earlier one,
 *   the seq to ask for (`nextAck` in ./charging-rules.ts). An event at or
 *   below its stream's last ack is a repeat, not stored again, also once its
 *   row has been deleted (`isAcknowledged`, ./charging-rules.ts).
 * - Stored events live until `deleteStationEventsOlderThan` removes them (the
 *   hub's retention, hub/charging/event-retention.ts); a stream's ack stays
 *   until `forgetStationStreamsUnusedSince` finds it forgettable: none of its
 *   events left, unused since the cutoff, not among its station's latest
 *   streams (isForgettableStream, ./charging-rules.ts).
 * - The lists for the operator (`listReceiptsBetween`, `listStationEvents`)
 *   read what is stored, so a restart of the hub empties neither; each returns
 *   at most `clampListLimit(limit)` rows (./charging-rules.ts), newest first.
 */
import type { Receipt } from '../../protocol/index.js'
export type SessionState = 'starting' | 'charging' | 'stopped' | 'failed'

export interface SessionRecord {
  sessionId: string
  stationId: string
  vehicleId: string
  reservationId: string | null
  state: SessionState
  startedAtMs: number
  maxWh: number | null
  meterStartWh: number | null
  meterStopWh: number | null
  endedAtMs: number | null
  stopReason: string | null
  /** The `ts` of the station's `session.started` event, exactly as reported (the station's clock), or null. */
  stationStartedAt: string | null
  /** The `ts` of the station's `session.stopped` event, exactly as reported (the station's clock), or null. */
  stationEndedAt: string | null
  /** Tariff frozen when the session opened. */
  priceMinorPerKwh: number
  currency: string
}

export interface ReceiptRecord {
  sessionId: string
  stationId: string
  vehicleId: string
  startedAtMs: number
  endedAtMs: number
  energyWh: number
  priceMinorPerKwh: number
  costMinor: number
  currency: string
}

export type OpenSessionInput = Omit<SessionRecord, 'state' | 'meterStartWh' | 'meterStopWh' | 'endedAtMs' | 'stopReason' | 'stationStartedAt' | 'stationEndedAt'>

export type OpenSessionOutcome = { ok: true; session: SessionRecord } | { ok: false; active: SessionRecord }

export interface CloseSessionInput {
  sessionId: string
  meterStopWh: number
  /** Hub clock, epoch ms; a time before the session's start is taken as its start. */
  endedAtMs: number
  reason: string
  /** Used when the session never recorded its start reading (e.g. the start answer was lost). */
  meterStartWh?: number
  /** The station's own `ts` for the stop, as reported; stored, never used for billing or order. */
  stationEndedAt?: string
}

export type CloseSessionOutcome =
  /** `created` is false when the session was closed before (the call changed nothing). */
  | { status: 'closed'; receipt: ReceiptRecord; created: boolean }
  | { status: 'not_found' }
  | { status: 'fault'; code: 'METER_MISSING_START' | 'METER_BACKWARDS'; session: SessionRecord }

export interface RecordEventOutcome {
  /** False when this (station, epoch, seq) was stored before. */
  inserted: boolean
  /** Highest seq such that this station's events of this epoch from 1 up to it are all stored (0: none). */
  ackSeq: number
  /** Set when the hub lacks event `ackSeq + 1` while holding a later one: ask the station to send from here. */
  resendFrom?: number
}

/** Filter of {@link ChargingStore.listReceiptsBetween}: receipts whose end (hub clock, epoch ms) is in `[fromMs, toMs)`; a missing bound is open. */
export interface ReceiptRange {
  fromMs?: number
  toMs?: number
  /** Only this station's receipts. */
  stationId?: string
  /** Most rows returned; clamped to 1..MAX_LIST_LIMIT. */
  limit: number
}

/** A station event as `recordEvent` stored it. */
export interface StoredStationEvent {
  stationId: string
  /** The outbox epoch, or null for the epoch-less stream. */
  epoch: string | null
  seq: number
  type: string
  /** The event as the hub read it: JSON text of the fields it knows (ChargingService.recordEvent). */
  body: string
  /** Hub clock when first stored, epoch ms. */
  receivedAtMs: number
}

/**
 * A session of one of this hub's vehicles at a peer's station (roaming,
 * docs/protocol.md "Roaming"): the home hub remembers where it lives and,
 * once the peer has answered the stop, its receipt. `stopping`: a stop the
 * peer has not answered yet, retried from `nextAtMs` (the stop queue).
 */
export interface RoamingSessionRecord {
  sessionId: string
  /** The peer (CPO) where the session runs. */
  hubId: string
  vehicleId: string
  stationId: string
  startedAtMs: number
  /** The peer's start reading (Wh), from its start answer. */
  meterStartWh: number
  state: 'open' | 'stopping' | 'stopped' | 'failed'
  stopAttempts: number
  nextStopAtMs: number | null
  /** The peer's receipt once stopped. */
  receipt: Receipt | null
  /** Why a `failed` session has no receipt (the peer's error code). */
  failReason: string | null
}

export type NewRoamingSession = Pick<RoamingSessionRecord, 'sessionId' | 'hubId' | 'vehicleId' | 'stationId' | 'startedAtMs' | 'meterStartWh'>

export interface ChargingStore {
  /**
   * Open a session in state `starting` unless the station has an active one.
   * Rejects with StoreError('DUPLICATE_ID') when a session with that id exists,
   * whatever its state or station (its id is the primary key; a session id
   * derived from a vehicle's request is opened once, by one run of it).
   */
  openSession(input: OpenSessionInput): Promise<OpenSessionOutcome>
  /**
   * `starting` -> `charging` with the meter's start reading (Wh) and, when the
   * station stamped it, its own start time as reported. A reading or time
   * already stored is kept (the first report wins). Resolves the session, or
   * null if it is not `starting`/`charging`.
   */
  markCharging(sessionId: string, meterStartWh: number, stationStartedAt?: string): Promise<SessionRecord | null>
  /** `starting` or `charging` -> `failed` (the station refused, never answered, or its meter cannot bill). No receipt. A session no longer active is left as it is (its first outcome stays). */
  failSession(sessionId: string, reason: string, endedAtMs: number): Promise<void>
  /**
   * `starting` -> `failed`, compare-and-set on the state: only a session
   * still `starting` (no start reading) fails; one that got its reading
   * (`charging`) or ended meanwhile is left as it is. Resolves whether this
   * call failed it (false: not `starting`, or no such session). No receipt.
   */
  failStarting(sessionId: string, reason: string, endedAtMs: number): Promise<boolean>
  getSession(sessionId: string): Promise<SessionRecord | null>
  /** The station's `starting` or `charging` session, or null. */
  activeSession(stationId: string): Promise<SessionRecord | null>
  /** Every `starting` or `charging` session (for recovery after a restart). */
  activeSessions(): Promise<SessionRecord[]>
  closeSession(input: CloseSessionInput): Promise<CloseSessionOutcome>
  getReceipt(sessionId: string): Promise<ReceiptRecord | null>
  /** The vehicle's receipts, newest first. */
  listReceipts(vehicleId: string, limit: number): Promise<ReceiptRecord[]>
  /**
   * Receipts of every vehicle ended in the range, of one station or all,
   * newest first (`endedAtMs` descending, then `sessionId` ascending), at most
   * `clampListLimit(q.limit)` of them. For the operator's receipts page and CSV.
   */
  listReceiptsBetween(q: ReceiptRange): Promise<ReceiptRecord[]>
  /**
   * The station's stored events, newest first (`receivedAtMs` descending,
   * then `seq` descending), at most `clampListLimit(limit)`.
   */
  listStationEvents(stationId: string, limit: number): Promise<StoredStationEvent[]>
  /** `epoch`: the event's outbox epoch, or null for a station whose events carry none. */
  recordEvent(stationId: string, epoch: string | null, seq: number, type: string, body: string, nowMs: number): Promise<RecordEventOutcome>
  /**
   * Housekeeping: delete at most `limit` stored events, of any station, whose
   * `receivedAtMs` is before `cutoffMs`, oldest first; resolves how many. One
   * short write whatever the backlog: the caller repeats it while it deletes
   * `limit` (hub/charging/event-retention.ts). Acks are kept.
   */
  deleteStationEventsOlderThan(cutoffMs: number, limit: number): Promise<number>

  /**
   * Housekeeping: forget at most `limit` event streams' acks that
   * isForgettableStream allows at `cutoffMs` (no stored event left, last used
   * before it, LATEST_STREAMS_KEPT of their station's streams used after
   * them), least recently used first; resolves how many. One short write,
   * repeated by the caller as for events.
   */
  forgetStationStreamsUnusedSince(cutoffMs: number, limit: number): Promise<number>

  // Roaming sessions of this hub's vehicles at peers (RoamingSessionRecord).

  /** Remember a session started at a peer, `open`. Rejects with StoreError('DUPLICATE_ID') when the id exists. */
  addRoamingSession(input: NewRoamingSession): Promise<void>
  getRoamingSession(sessionId: string): Promise<RoamingSessionRecord | null>
  /** `open`/`stopping` -> `stopping`, next try at `nextAtMs` after `attempts` tries. A settled session is left alone (resolves false). */
  queueRoamingStop(sessionId: string, attempts: number, nextAtMs: number): Promise<boolean>
  /** Every `stopping` session (the stop queue, after a restart). */
  roamingStops(): Promise<RoamingSessionRecord[]>
  /**
   * `open`/`stopping` -> `stopped` with the peer's receipt, or `failed` with a
   * reason (receipt null). The first settlement wins: later ones change nothing.
   */
  settleRoamingSession(sessionId: string, outcome: { receipt: Receipt } | { failReason: string }): Promise<void>
  /**
   * The receipts of the vehicle's `stopped` roaming sessions exactly as the
   * peers sent them, newest first (`endedAt` descending, then `sessionId`
   * ascending), at most `clampListLimit(limit)`.
   */
  listRoamingReceipts(vehicleId: string, limit: number): Promise<Receipt[]>
}
