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

/**
 * ROUTE_FAILED for a worker that lost its trip to another hub replica (its lease lapsed while its
 * process was paused or its database stalled): that replica undoes the trip, so nothing is booked,
 * as a repeat of the request is then told too.
 */
export function tripTakenOver(tripId: string): VoltwayError {
  return routeFailed({ failedHop: -1, hubId: '', reason: 'INTERNAL', message: `another hub replica took trip ${tripId} over and undoes it` })
}
