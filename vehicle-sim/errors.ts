/**
 * Errors of the simulator itself (as opposed to wire errors a hub answers).
 * Connection failures get codes of their own so the CLI can give a precise
 * hint and fleet summaries can count them; `UNAUTHORIZED` reuses the wire
 * code because it means the same thing to the user.
 */
import { ConfigError, VoltwayError, type ErrorCode } from '../protocol/index.js'

export const LOCAL_ERROR_CODES = ['BROKER_UNREACHABLE', 'CONNECT_TIMEOUT', 'CONNECTION_LOST'] as const
export type LocalErrorCode = (typeof LOCAL_ERROR_CODES)[number]
export type SimErrorCode = ErrorCode | LocalErrorCode

export class ConnectError extends Error {
  readonly code: SimErrorCode
  /** What tells this failure's cause apart for its hint (vehicle-sim/hints.ts), e.g. `{ notMqtt: true }`. */
  readonly details: Record<string, unknown> | undefined
  constructor(code: SimErrorCode, message: string, details?: Record<string, unknown>) {
    super(message)
    this.name = 'ConnectError'
    this.code = code
    this.details = details
  }
}

/** A bad command line or input file: printed as is, exit code 2. */
export class UsageError extends ConfigError {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** The code to count or print for any failure. */
export function codeOf(err: unknown): string {
  if (err instanceof VoltwayError || err instanceof ConnectError) return err.code
  if (err instanceof ConfigError) return 'USAGE'
  return 'INTERNAL'
}
