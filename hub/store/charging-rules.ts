/** Pure rules shared by every ChargingStore implementation. */
import { costMinor } from '../../protocol/index.js'
import type { CloseSessionInput, CloseSessionOutcome, ReceiptRecord, SessionRecord } from './charging.js'

/** Decide how a session closes: a receipt from the meter difference, or a meter fault. */
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
    endedAtMs: input.endedAtMs,
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
