/** Coded errors of the trip area (docs/protocol.md `ROUTE_FAILED`). */
import { VoltwayError, type ErrorCode } from '../../protocol/index.js'

export interface HopFailure {
  failedHop: number
  hubId: string
  /** The error code that made the hop fail. */
  reason: ErrorCode
  message: string
  /** The hop's own error details (e.g. `waitDie`), when it had any. */
  details?: Record<string, unknown>
}

export function routeFailed(f: HopFailure): VoltwayError {
  const details: Record<string, unknown> = { failedHop: f.failedHop, reason: f.reason, rolledBack: true, hubId: f.hubId }
  if (f.details !== undefined) details.reasonDetails = f.details
  return new VoltwayError('ROUTE_FAILED', `hop ${f.failedHop} (${f.hubId}) failed: ${f.message}; nothing was booked`, details)
}

export function tripNotFound(tripId: string): VoltwayError {
  return new VoltwayError('NOT_FOUND', `no trip ${tripId} of this vehicle`, { tripId })
}
