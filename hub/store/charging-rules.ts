/** Pure rules shared by every ChargingStore implementation. */
import { costMinor } from '../../protocol/index.js'
import type { CloseSessionInput, CloseSessionOutcome, ReceiptRange, ReceiptRecord, RoamingSessionRecord, SessionRecord } from './charging.js'

/**
 * Decide how a session closes: a receipt from the meter difference, or a
 * meter fault. The start reading is the session's first one, else the one the
 * close brings; with neither the session is `METER_MISSING_START`, never billed
 * from 0. The end is on the hub's clock and never before the start (a clock
 * step back cannot make a receipt end before it begins).
 */
export function closeOutcome(session: SessionRecord, input: CloseSessionInput): CloseSessionOutcome {
  const start = session.meterStartWh ?? input.meterStartWh ?? null
  if (start === null) return { status: 'fault', code: 'METER_MISSING_START', session }
  if (input.meterStopWh < start) return { status: 'fault', code: 'METER_BACKWARDS', session }
  const energyWh = input.meterStopWh - start
  const receipt: ReceiptRecord = {
    sessionId: session.sessionId,
    stationId: session.stationId,
    vehicleId: session.vehicleId,
    startedAtMs: session.startedAtMs,
    endedAtMs: Math.max(input.endedAtMs, session.startedAtMs),
    energyWh,
    priceMinorPerKwh: session.priceMinorPerKwh,
    costMinor: costMinor(energyWh, session.priceMinorPerKwh),
    currency: session.currency,
  }
  return { status: 'closed', receipt, created: true }
}

/** The most rows an operator list (`listReceiptsBetween`, `listStationEvents`) returns at once. */
export const MAX_LIST_LIMIT = 5000

/** A list's `limit` made safe: an integer in 1..MAX_LIST_LIMIT (a bad or missing number is 1). */
export function clampListLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.min(MAX_LIST_LIMIT, Math.max(1, Math.floor(limit))) : 1
}

/** Whether a receipt matches a range filter (the memory store's reading of `listReceiptsBetween`). */
export function inReceiptRange(r: ReceiptRecord, q: ReceiptRange): boolean {
  return (q.stationId === undefined || r.stationId === q.stationId) && (q.fromMs === undefined || r.endedAtMs >= q.fromMs) && (q.toMs === undefined || r.endedAtMs < q.toMs)
}

export function isActive(s: SessionRecord): boolean {
  return s.state === 'starting' || s.state === 'charging'
}

/**
 * The ack after storing event `seq` of one event stream of a station: the
 * events of one outbox epoch, or the epoch-less events of a station that sends
 * none (docs/protocol.md, "Events"). `acked` is the stream's last ack, null
 * when the hub has never heard from the stream; `stored(n)` tells whether its
 * event `n` is stored.
 *
 * - Every stream starts at seq 1: the ack is the highest n such that events
 *   1..n are all stored. A first event with seq 2 is not acknowledged past the
 *   missing seq 1 (it would be lost silently).
 * - `resendFrom` is set when the stored event lies beyond that contiguous
 *   run: the hub lacks event `ackSeq + 1` and asks the station for it.
 */
export function nextAck(acked: number | null, seq: number, stored: (n: number) => boolean): { ackSeq: number; resendFrom?: number } {
  let ack = acked ?? 0
  while (stored(ack + 1)) ack++
  return ack < seq ? { ackSeq: ack, resendFrom: ack + 1 } : { ackSeq: ack }
}

/** How many of a station's most recently used event streams the retention never forgets (isForgettableStream). */
export const LATEST_STREAMS_KEPT = 3

/**
 * Whether the retention may forget an event stream's ack (outbox epoch, or
 * the epoch-less stream; docs/protocol.md, "Events"): the stream has no
 * stored event left, was last used before `cutoffMs`, and is not among its
 * station's LATEST_STREAMS_KEPT most recently used streams (`newer`: how many
 * of the station's streams were used after it, counted up to that number).
 * "Used" is an event the hub stored (a repeat uses nothing), ordered as the
 * station's events came in, not by the clock: `usedAtMs` is the hub's time of
 * it, the order `used_seq` in SQL. So a station keeps an ack per stream only
 * as long as the retention keeps that stream's events, however many epochs
 * it makes, and always keeps the one its agent sends on, however quiet it
 * is, even with a stray event of an older epoch (a restored SD card) after
 * it. A forgotten stream heard from again starts afresh, with nothing stored
 * to read through (nextAck from null).
 * In SQL: `used_at_ms < cutoff AND (the station's streams with a greater
 * used_seq, up to LATEST_STREAMS_KEPT) = LATEST_STREAMS_KEPT AND NOT EXISTS
 * (an event of the stream)`.
 */
export function isForgettableStream(s: { usedAtMs: number; newer: number; hasEvents: boolean }, cutoffMs: number): boolean {
  return s.usedAtMs < cutoffMs && s.newer >= LATEST_STREAMS_KEPT && !s.hasEvents
}

/**
 * Whether event `seq` of a stream is one the hub has acknowledged: `acked`
 * (the stream's last ack, null when never heard from) covers it. An ack only
 * ever passes stored events, so such an event was stored once: it is a
 * repeat and is not stored again, also when the retention has deleted its
 * row since (`deleteStationEventsOlderThan`), so "stored once" does not
 * depend on how long events are kept.
 */
export function isAcknowledged(acked: number | null, seq: number): boolean {
  return acked !== null && seq <= acked
}

/** A roaming session still waits for its peer's stop answer (it may be queued for a stop, or settled). */
export function isUnsettledRoaming(r: Pick<RoamingSessionRecord, 'state'>): boolean {
  return r.state === 'open' || r.state === 'stopping'
}
