/**
 * Hardware error codes and the one class that carries them. The code is the
 * contract (callers branch on it); the message says what happened; the hint
 * says what a technician on site should check.
 */
export const HW_ERROR_HINTS = {
  HW_SERIAL_NOT_FOUND: 'No serial device at that path. Check the USB/RS-485 cable and run `voltway station check` to list the ports this machine sees.',
  HW_SERIAL_OPEN_FAILED: 'The serial port exists but cannot be opened. Check that no other program holds it and that this user may open it (group dialout).',
  HW_TIMEOUT: 'The device did not answer in time. Check wiring, power, baud rate and (Modbus) the unit id; for a board, check that it runs StandardFirmata.',
  HW_DISCONNECTED: 'The device went away while in use. Check the cable and the board power; the relay state is unknown until the agent reconnects.',
  HW_BOARD_ERROR: 'The board reported an error. Check the board power and firmware.',
  HW_BOARD_NOT_READY: 'The board is not ready yet or was closed. Wait for the board to come up, or restart the agent.',
  HW_BAD_PIN: 'The configured pin does not exist on this board. Check hardware.relay.pin / hardware.meter.pin in station.json.',
  HW_RELAY_WRITE_FAILED: 'Switching the relay failed; its state is unknown. Check the relay wiring and the board; open the contactor by hand if in doubt.',
  HW_METER_UNKNOWN_MODEL: 'The configured meter model has no register map. Set hardware.meter.model to one of the known models.',
  HW_METER_NO_ANSWER:
    "The meter has not answered once since its port opened. Check that hardware.meter's baudRate, parity, dataBits and stopBits match the meter's own settings (its setup menu; SDM120/SDM230 ship at 2400 baud 8N1, SDM630 at 9600 8N1), then the unit id and the RS-485 wiring (A/B, termination).",
  HW_METER_READ_FAILED: 'The meter answered with an error or an impossible value. Check the meter model, unit id and RS-485 wiring (A/B, termination).',
  HW_BAD_CONFIG: 'The hardware section of station.json combines parts that cannot work together (e.g. a mock meter on a real board). Fix station.json.',
  HW_CLOSED: 'The device was closed by the agent; this is a programming error if seen in the field.',
  HW_PLUGIN_NOT_FOUND: 'The johnny-five IO plugin named in hardware.board.module is not installed. Install it next to voltway (npm i <plugin>).',
} as const

export type HwErrorCode = keyof typeof HW_ERROR_HINTS

export const HW_ERROR_CODES = Object.keys(HW_ERROR_HINTS) as HwErrorCode[]

export interface HwErrorOptions {
  cause?: unknown
  details?: Record<string, unknown>
}

export class HwError extends Error {
  readonly code: HwErrorCode
  /** What a technician should check. */
  readonly hint: string
  readonly details: Record<string, unknown>

  constructor(code: HwErrorCode, message: string, opts: HwErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'HwError'
    this.code = code
    this.hint = HW_ERROR_HINTS[code]
    this.details = opts.details ?? {}
  }
}

export function isHwError(err: unknown, code?: HwErrorCode): err is HwError {
  return err instanceof HwError && (code === undefined || err.code === code)
}

/** Anything thrown by a driver library becomes an HwError with `code`, unless it already is one. */
export function toHwError(err: unknown, code: HwErrorCode, message: string, details?: Record<string, unknown>): HwError {
  if (err instanceof HwError) return err
  const text = err instanceof Error ? err.message : String(err)
  return new HwError(code, `${message}: ${text}`, { cause: err, ...(details ? { details } : {}) })
}
