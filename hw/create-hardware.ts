/**
 * Builds the station's hardware from the `hardware` section of station.json
 * (docs/configuration.md). Config alone picks real drivers or the mock board.
 */
import { HwError, toHwError } from './errors.js'
import { JohnnyFiveBoard } from './five-board.js'
import { resolvePin, type IoPlugin } from './io-plugin.js'
import { registerMap, type SerialSettings } from './meter-models.js'
import { MockIo } from './mock-io.js'
import { MockMeter } from './mock-meter.js'
import type { SerialBinding } from './serial-port.js'
import { MockCardReader } from './mock-card-reader.js'
import type { Board, CardReader, EnergyMeter, PinId, Relay, RelayType } from './types.js'
import type { Clock } from '../base/clock.js'

/** Same shape as station/config.ts's hardware schemas (hw/ does not import station/). */
export type BoardSpec =
  | { type: 'mock'; pluggedIn?: boolean }
  | { type: 'firmata'; path: string; baudRate: number }
  | { type: 'plugin'; module: string; export?: string; options?: Record<string, unknown> }

export interface RelaySpec {
  pin: PinId
  type: RelayType
}

export type MeterSpec =
  | { type: 'mock'; powerKw: number; startWh?: number }
  | ({ type: 'modbus-rtu'; path: string; unitId: number; model: string; timeoutMs: number } & Partial<SerialSettings>)
  | { type: 's0'; pin: PinId; pulsesPerKwh: number; startWh?: number }

/** The card reader at the charger (hw/types.ts, CardReader). */
export type CardReaderSpec = { type: 'mock'; debounceMs?: number } | { type: 'rdm6300'; path: string; baudRate?: number; debounceMs?: number }

export interface HardwareSpec {
  board: BoardSpec
  relay: RelaySpec
  meter: MeterSpec
  cardReader?: CardReaderSpec
}

export interface HardwareDeps {
  /** Clock for meters (default the system clock). */
  clock?: Clock
  /** serialport binding for every serial device (MockBinding in tests). */
  binding?: SerialBinding
  readyTimeoutMs?: number
}

/** The mock board's simulation, for tests and demos. */
export interface MockHardware {
  io: MockIo
  /** The simulated car and meter; undefined when the meter is not the mock one. */
  meter: MockMeter | undefined
}

export interface Hardware {
  board: Board
  relay: Relay
  meter: EnergyMeter
  /** Present when the spec names one. */
  cardReader?: CardReader
  /** Present only on the mock board. */
  mock?: MockHardware
  /** Opens the relay (best effort), closes the meter and the board. Never rejects. */
  close(): Promise<void>
}

export async function createHardware(spec: HardwareSpec, deps: HardwareDeps = {}): Promise<Hardware> {
  if (spec.meter.type === 'mock' && spec.board.type !== 'mock') {
    throw new HwError('HW_BAD_CONFIG', 'a mock meter needs the mock board (it simulates the car behind the relay)')
  }
  if (spec.meter.type === 'modbus-rtu') registerMap(spec.meter.model) // an unknown model fails before any port opens
  const { board, io } = await createBoard(spec.board, deps)
  let relay: Relay | undefined
  try {
    await board.ready()
    relay = await board.relay(spec.relay)
    const { meter, mockMeter } = await createMeter(spec, board, io, deps)
    const mock = io ? { mock: { io, meter: mockMeter } } : {}
    const cardReader = spec.cardReader ? await createCardReader(spec.cardReader, deps).catch(async (err: unknown) => {
      await meter.close().catch(() => {})
      throw err
    }) : undefined
    return {
      board,
      relay,
      meter,
      ...(cardReader ? { cardReader } : {}),
      ...mock,
      async close() {
        await relay?.dispose()
        await meter.close().catch(() => {})
        await cardReader?.close()
        await board.close()
      },
    }
  } catch (err) {
    await relay?.dispose()
    await board.close()
    throw err
  }
}

async function createBoard(spec: BoardSpec, deps: HardwareDeps): Promise<{ board: Board; io?: MockIo }> {
  const timeouts = deps.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: deps.readyTimeoutMs }
  switch (spec.type) {
    case 'mock': {
      const io = new MockIo()
      return { board: new JohnnyFiveBoard({ io, name: 'mock board', flush: () => io.flush(), release: () => io.close(), ...timeouts }), io }
    }
    case 'firmata': {
      // Loaded on demand: serialport and firmata cost ~15 MB that a mock board never needs.
      const { createFirmataBoard } = await import('./firmata-board.js')
      return { board: createFirmataBoard({ path: spec.path, baudRate: spec.baudRate, ...timeouts, ...(deps.binding ? { binding: deps.binding } : {}) }) }
    }
    case 'plugin':
      return { board: new JohnnyFiveBoard({ io: await loadPlugin(spec.module, spec.export, spec.options ?? {}), name: spec.module, ...timeouts }) }
  }
}

/**
 * Load a johnny-five IO plugin class: the named `exportName`, else the module's
 * default export, else its only exported class (raspi-io exports `RaspiIO` by name).
 */
async function loadPlugin(name: string, exportName: string | undefined, options: Record<string, unknown>): Promise<IoPlugin> {
  let mod: Record<string, unknown>
  try {
    mod = (await import(name)) as Record<string, unknown>
  } catch (err) {
    throw toHwError(err, 'HW_PLUGIN_NOT_FOUND', `cannot load IO plugin "${name}"`)
  }
  const classes = Object.keys(mod).filter((k) => k !== 'default' && typeof mod[k] === 'function')
  const Plugin = exportName !== undefined ? mod[exportName] : (mod.default ?? (classes.length === 1 ? mod[classes[0] as string] : undefined))
  if (typeof Plugin !== 'function') {
    const which = exportName !== undefined ? `no export "${exportName}"` : 'no default export and not exactly one exported class'
    throw new HwError('HW_PLUGIN_NOT_FOUND', `"${name}" has ${which}; set hardware.board.export to one of: ${classes.join(', ') || '(none)'}`)
  }
  const io: unknown = new (Plugin as new (o: Record<string, unknown>) => unknown)(options)
  if (!isIoPlugin(io)) throw new HwError('HW_PLUGIN_NOT_FOUND', `"${name}" is not a johnny-five IO plugin (no pinMode/digitalWrite/digitalRead)`)
  return io
}

function isIoPlugin(io: unknown): io is IoPlugin {
  const o = io as Partial<Record<string, unknown>> | null
  return typeof o === 'object' && o !== null && typeof o.pinMode === 'function' && typeof o.digitalWrite === 'function' && typeof o.digitalRead === 'function' && typeof o.on === 'function'
}

async function createMeter(spec: HardwareSpec, board: Board, io: MockIo | undefined, deps: HardwareDeps): Promise<{ meter: EnergyMeter; mockMeter: MockMeter | undefined }> {
  const m = spec.meter
  const clock = deps.clock ? { clock: deps.clock } : {}
  switch (m.type) {
    case 'mock': {
      const relayPin = io ? resolvePin(io, spec.relay.pin) : undefined
      if (!io || relayPin === undefined) throw new HwError('HW_BAD_CONFIG', 'a mock meter needs the mock board')
      const pluggedIn = spec.board.type === 'mock' ? (spec.board.pluggedIn ?? true) : true
      const meter = new MockMeter({ io, relayPin, relayType: spec.relay.type, powerKw: m.powerKw, startWh: m.startWh ?? 0, pluggedIn, ...clock })
      return { meter, mockMeter: meter }
    }
    case 'modbus-rtu': {
      const { ModbusMeter } = await import('./modbus-meter.js')
      const meter = await ModbusMeter.open({ ...m, ...clock, ...(deps.binding ? { binding: deps.binding } : {}) })
      return { meter, mockMeter: undefined }
    }
    case 's0': {
      const { S0Meter } = await import('./s0-meter.js')
      return { meter: new S0Meter({ board, pin: m.pin, pulsesPerKwh: m.pulsesPerKwh, ...(m.startWh !== undefined ? { startWh: m.startWh } : {}), ...clock }), mockMeter: undefined }
    }
  }
}

async function createCardReader(spec: CardReaderSpec, deps: HardwareDeps): Promise<CardReader> {
  const common = { ...(deps.clock ? { clock: deps.clock } : {}), ...(spec.debounceMs !== undefined ? { debounceMs: spec.debounceMs } : {}) }
  if (spec.type === 'mock') return new MockCardReader(common)
  // Loaded on demand, like the other serial drivers.
  const { Rdm6300Reader } = await import('./rdm6300-reader.js')
  return Rdm6300Reader.open({ path: spec.path, ...(spec.baudRate !== undefined ? { baudRate: spec.baudRate } : {}), ...common, ...(deps.binding ? { binding: deps.binding } : {}) })
}
