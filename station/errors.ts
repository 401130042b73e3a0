/**
 * Codes a station agent puts in `cmd/res` errors. docs/protocol.md codes where one
 * fits; the others are additions (docs/protocol.md allows new codes) that the hub
 * maps for its vehicles (e.g. STATION_DISABLED -> STATION_OFFLINE).
 */
export const STATION_ERROR_CODES = [
  'BAD_REQUEST',
  'NOT_FOUND',
  'STATION_BUSY',
  /** `start` while the station is disabled (by `disable`). */
  'STATION_DISABLED',
  /** `start` while the station is faulted; `enable` clears the fault once the relay opens and the meter reads well (else RELAY_FAULT / METER_FAULT). */
  'STATION_FAULTED',
  /** The session named by `start` already ended; a new session needs a new id. */
  'SESSION_ENDED',
  'METER_FAULT',
  'RELAY_FAULT',
  'INTERNAL',
] as const

export type StationErrorCode = (typeof STATION_ERROR_CODES)[number]

export class StationError extends Error {
  readonly code: StationErrorCode
  constructor(code: StationErrorCode, message: string) {
    super(message)
    this.name = 'StationError'
    this.code = code
  }
}

/** Fault codes in `fault` events (`code` field). */
export const FAULT_CODES = {
  /** The meter read failed (timeout, device error, disconnected). */
  METER_READ_FAILED: 'METER_READ_FAILED',
  /** The import register went down. */
  METER_BACKWARDS: 'METER_BACKWARDS',
  /** The register kept repeating while the meter itself reported power flowing. */
  METER_STALE: 'METER_STALE',
  /** The register rose between two reads by more than the most power that can flow allows. */
  METER_JUMP: 'METER_JUMP',
  /** A relay write failed; the contacts are in an unknown state. */
  RELAY_FAULT: 'RELAY_FAULT',
  /** The board went away. */
  BOARD_DISCONNECTED: 'BOARD_DISCONNECTED',
} as const

export type FaultCode = (typeof FAULT_CODES)[keyof typeof FAULT_CODES]
