/**
 * The hardware a charging station needs, behind small Promise-based
 * interfaces. Business logic (station/) depends on these only; config alone
 * picks the real driver or the mock (see create-hardware.ts).
 */

export type PinId = number | string

export type RelayType = 'NO' | 'NC'

/** What the agent knows about the contacts. `unknown` after any failed or unconfirmed write. */
export type RelayState = 'open' | 'closed' | 'unknown'

/**
 * A relay (contactor driver) on one digital output pin.
 *
 * Contract:
 * - A relay starts open: creating one writes "open" before it is handed out.
 * - `close()` closes the contacts (current may flow); `open()` opens them.
 *   Both resolve once the write has left the host (flushed to the board);
 *   `NC` relays invert the pin level (closed = LOW), `NO` relays do not.
 * - On a failed write, a write timeout, or a board disconnect the promise
 *   rejects with an {@link HwError} (`HW_RELAY_WRITE_FAILED`, `HW_TIMEOUT`,
 *   `HW_DISCONNECTED`) and `state` becomes `unknown`. Callers must treat any
 *   error as "state unknown", never as "still open": fail safe means retrying
 *   `open()` and reporting a fault.
 * - `isClosed` is true only when the relay is known to be closed.
 * - `dispose()` tries to open the relay (best effort), then releases it;
 *   it never rejects. Later `open()`/`close()` reject with `HW_CLOSED`.
 */
export interface Relay {
  readonly pin: PinId
  readonly type: RelayType
  readonly state: RelayState
  readonly isClosed: boolean
  open(): Promise<void>
  close(): Promise<void>
  dispose(): Promise<void>
}

/** One meter reading. The meter never invents a value: every field was measured. */
export interface MeterReading {
  /** Cumulative import register, integer Wh. Never decreases on a healthy meter. */
  energyWh: number
  /** Active power now, W (0 when idle). */
  powerW: number
  voltageV?: number
  currentA?: number
  /** When the reading was taken, ms since epoch (from the meter's injected clock). */
  ts: number
}

/**
 * An energy meter.
 *
 * Contract:
 * - `read()` resolves with a fresh {@link MeterReading}; `energyWh` is an
 *   integer, cumulative, non-negative.
 * - A read that times out rejects with `HW_TIMEOUT`; one that fails
 *   (device error, garbage value, CRC) rejects with `HW_METER_READ_FAILED`;
 *   a lost device rejects with `HW_DISCONNECTED`. A rejected read never
 *   yields a guessed or cached value.
 * - Concurrent `read()` calls are allowed; the meter serialises them.
 * - `close()` releases the meter; it never rejects. Later reads reject
 *   with `HW_CLOSED`.
 * - Detecting a stale (repeating) meter or a backwards register is the
 *   caller's job (docs/design.md, Billing): the meter reports what it measured.
 */
export interface EnergyMeter {
  readonly kind: 'mock' | 'modbus-rtu' | 's0'
  read(): Promise<MeterReading>
  close(): Promise<void>
}

export type DigitalLevel = 0 | 1

export type Unsubscribe = () => void

/**
 * A plain digital output pin, e.g. the heartbeat line to an external
 * hardware watchdog.
 *
 * Contract:
 * - Created LOW. `write()` and `toggle()` resolve once the write has left
 *   the host (flushed to the board), like a relay write.
 * - A failed write, a write timeout or a lost board rejects with an
 *   {@link HwError} (`HW_RELAY_WRITE_FAILED`, `HW_TIMEOUT`, `HW_DISCONNECTED`);
 *   `level` is then what was last asked for.
 * - After the board's `close()`, writes reject with `HW_CLOSED`.
 */
export interface OutputPin {
  readonly pin: PinId
  readonly level: DigitalLevel
  write(level: DigitalLevel): Promise<void>
  /** Flip the level: one edge for a watchdog's trigger input. */
  toggle(): Promise<void>
}

/**
 * A board with digital pins (johnny-five over any IO plugin: Firmata over a
 * serial port, or the mock board).
 *
 * Contract:
 * - `ready()` resolves once the board answered and its pins are known;
 *   it rejects with `HW_SERIAL_NOT_FOUND`, `HW_SERIAL_OPEN_FAILED` or
 *   `HW_TIMEOUT`. Calling it again returns the same promise.
 * - `relay()` creates a {@link Relay} on an output pin, already opened.
 * - `output()` creates an {@link OutputPin}, already LOW; it rejects with
 *   `HW_BAD_PIN` when the pin cannot be an output.
 * - `watchInput()` reports level changes of a digital input pin, always
 *   asynchronously, in order; the returned function stops reporting.
 * - `onDisconnect()` listeners hear once when the board goes away; every
 *   relay of the board is then in state `unknown`.
 * - `close()` opens every relay created from the board (best effort),
 *   then releases the transport; it never rejects.
 */
export interface Board {
  readonly name: string
  readonly isReady: boolean
  ready(): Promise<void>
  relay(options: { pin: PinId; type: RelayType }): Promise<Relay>
  output(pin: PinId): Promise<OutputPin>
  watchInput(pin: PinId, listener: (level: DigitalLevel) => void): Unsubscribe
  onDisconnect(listener: (err: Error) => void): Unsubscribe
  close(): Promise<void>
}

/**
 * An RFID card reader at the charger (125 kHz EM4100 readers such as the
 * RDM6300; the same interface fits a PN532). EVerest's auth module reads its
 * tokens through such a provider interface; config alone picks the driver.
 *
 * Contract:
 * - `onCard()` listeners hear each tap as the card's UID: uppercase
 *   hexadecimal, no separators (the RDM6300 gives 10 digits: the version
 *   byte and the 4-byte id). Always asynchronously, in order.
 * - A card held on the reader is one tap: readers repeat its frames while it
 *   stays in the field, so a card is reported again only after no frame of
 *   it came for the debounce time (default 1000 ms of the injected clock),
 *   or right away when another card came in between.
 * - A garbled frame (bad framing, bad hex, bad checksum) is dropped, never
 *   reported and never guessed; `dropped` counts them.
 * - `close()` releases the reader and never rejects; listeners hear nothing after it.
 */
export interface CardReader {
  readonly kind: 'mock' | 'rdm6300'
  /** Frames dropped as garbled since the reader opened. */
  readonly dropped: number
  /** Good frames handled since the reader opened (a held card counts each repeat; taps are fewer). */
  readonly received: number
  onCard(listener: (uid: string) => void): Unsubscribe
  close(): Promise<void>
}
