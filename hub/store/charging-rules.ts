/** Pure rules shared by every ChargingStore implementation. */
import { costMinor } from '../../protocol/index.js'
import type { CloseSessionInput, CloseSessionOutcome, ReceiptRecord, SessionRecord } from './charging.js'

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

export function isActive(s: SessionRecord): boolean {
  return s.state === 'starting' || s.state === 'charging'
}

/**
 * The highest seq of a station that can be acknowledged after storing
 * `seq`: every event up to it is stored. `acked` is the last ack (null: the
 * first event ever seen from the station, which sets the base: earlier ones
 * were acknowledged before this database existed); `stored(n)` tells whether
 * event `n` is stored.
 */
export function nextAck(acked: number | null, seq: number, stored: (n: number) => boolean): number {
  let ack = acked ?? seq - 1
  while (stored(ack + 1)) ack++
  return ack
}
