/**
 * Energy meter over Modbus RTU (RS-485 on a serial port), using modbus-serial
 * for framing, CRC and timeouts. Registers come from meter-models.ts.
 */
import modbus from 'modbus-serial'
import { HwError, type HwErrorCode } from './errors.js'
import { formatSerial, registerMap, serialSettings, type RegisterMap, type SerialSettings } from './meter-models.js'
import { classifyOpenError, type SerialBinding } from './serial-port.js'
import type { EnergyMeter, MeterReading } from './types.js'
import { systemClock, type Clock } from '../base/clock.js'

type ModbusClient = InstanceType<typeof modbus.default>

/** Serial settings left out are the model's factory settings (meter-models.ts). */
export interface ModbusMeterOptions extends Partial<SerialSettings> {
  path: string
  /** Modbus slave address, 1-247. */
  unitId: number
  /** A key of METER_MODELS, e.g. SDM120. */
  model: string
  /** Per-transaction answer timeout. */
  timeoutMs: number
  /** serialport binding (MockBinding in tests); default: the platform's. */
  binding?: SerialBinding
  clock?: Clock
}

/** Fields modbus-serial puts on its errors (its timeout error is not even an Error instance). */
interface ModbusFailure {
  message?: unknown
  errno?: unknown
  name?: unknown
  modbusCode?: unknown
}

export class ModbusMeter implements EnergyMeter {
  readonly kind = 'modbus-rtu' as const
  readonly model: string
  /** The line settings in use (the model's factory settings unless configured). */
  readonly serial: SerialSettings
  readonly #opts: ModbusMeterOptions
  readonly #map: RegisterMap
  readonly #clock: Clock
  #client: ModbusClient | undefined
  #lost: Promise<never> | undefined
  #chain: Promise<unknown> = Promise.resolve()
  #closed = false
  /** Whether the meter ever answered since the port opened: a meter that never did points at the line settings. */
  #answered = false

  /** Throws HW_METER_UNKNOWN_MODEL before touching the port. Does not open it: see {@link connect}. */
  constructor(opts: ModbusMeterOptions) {
    this.#map = registerMap(opts.model)
    this.model = opts.model.toUpperCase()
    this.serial = serialSettings(opts.model, opts)
    this.#opts = opts
    this.#clock = opts.clock ?? systemClock
  }

  /** Create and open; rejects with HW_METER_UNKNOWN_MODEL, HW_SERIAL_NOT_FOUND or HW_SERIAL_OPEN_FAILED. */
  static async open(opts: ModbusMeterOptions): Promise<ModbusMeter> {
    const meter = new ModbusMeter(opts)
    await meter.connect()
    return meter
  }

  async connect(): Promise<void> {
    if (this.#client?.isOpen) return
    const client = new modbus.default()
    // modbus-serial passes these options to serialport 13's SerialPort, which
    // lets `binding` override the platform binding (how tests use MockBinding).
    const { baudRate, parity, dataBits, stopBits } = this.serial
    const portOptions: Parameters<ModbusClient['connectRTUBuffered']>[1] & { binding?: SerialBinding } = { baudRate, parity, dataBits, stopBits }
    if (this.#opts.binding) portOptions.binding = this.#opts.binding
    client.on('error', () => {}) // surfaced through the failing transaction instead
    try {
      await client.connectRTUBuffered(this.#opts.path, portOptions)
    } catch (err) {
      throw await classifyOpenError(err, this.#opts.path, this.#opts.binding)
    }
    client.setID(this.#opts.unitId)
    client.setTimeout(this.#opts.timeoutMs)
    this.#answered = false
    this.#client = client
    this.#lost = new Promise<never>((_resolve, reject) => {
      client.on('close', () => {
        if (this.#client === client) this.#client = undefined
        reject(new HwError('HW_DISCONNECTED', `meter port ${this.#opts.path} closed`))
      })
    })
    this.#lost.catch(() => {})
  }

  read(): Promise<MeterReading> {
    const next = this.#chain.then(() => this.#read())
    this.#chain = next.catch(() => {})
    return next
  }

  async close(): Promise<void> {
    this.#closed = true
    const client = this.#client
    this.#client = undefined
    if (client?.isOpen) await new Promise<void>((resolve) => client.close(() => resolve()))
  }

  async #read(): Promise<MeterReading> {
    if (this.#closed) throw new HwError('HW_CLOSED', 'meter was closed')
    await this.#reconnect()
    const energyKwh = await this.#float(this.#map.energyKwh, 'energy')
    const powerW = await this.#float(this.#map.powerW, 'power')
    const voltageV = this.#map.voltageV === undefined ? undefined : await this.#float(this.#map.voltageV, 'voltage')
    const currentA = this.#map.currentA === undefined ? undefined : await this.#float(this.#map.currentA, 'current')
    if (energyKwh < 0) throw this.#garbage('energy', energyKwh)
    return {
      energyWh: Math.round(energyKwh * 1000),
      powerW: Math.round(powerW * 10) / 10,
      ...(voltageV === undefined ? {} : { voltageV: Math.round(voltageV * 10) / 10 }),
      ...(currentA === undefined ? {} : { currentA: Math.round(currentA * 1000) / 1000 }),
      ts: this.#clock.now(),
    }
  }

  async #reconnect(): Promise<void> {
    if (this.#client?.isOpen) return
    try {
      await this.connect()
    } catch (err) {
      throw err instanceof HwError && err.code === 'HW_SERIAL_NOT_FOUND'
        ? new HwError('HW_DISCONNECTED', `meter port ${this.#opts.path} is gone`, { cause: err })
        : err
    }
  }

  async #float(register: number, what: string): Promise<number> {
    const client = this.#client
    if (!client || !this.#lost) throw new HwError('HW_DISCONNECTED', `meter port ${this.#opts.path} is not open`)
    let value: number
    try {
      const res = await Promise.race([client.readInputRegisters(register, 2), this.#lost])
      value = res.buffer.readFloatBE(0)
      this.#answered = true
    } catch (err) {
      throw this.#failure(err, what, register)
    }
    if (!Number.isFinite(value)) throw this.#garbage(what, value)
    return value
  }

  #failure(err: unknown, what: string, register: number): HwError {
    if (err instanceof HwError) return err
    const f: ModbusFailure = typeof err === 'object' && err !== null ? err : {}
    const text = typeof f.message === 'string' ? f.message : String(err)
    let code: HwErrorCode = 'HW_METER_READ_FAILED'
    if (f.errno === 'ETIMEDOUT') code = this.#answered ? 'HW_TIMEOUT' : 'HW_METER_NO_ANSWER'
    else if (f.name === 'PortNotOpenError') code = 'HW_DISCONNECTED'
    const line = code === 'HW_METER_NO_ANSWER' ? ` (line ${formatSerial(this.serial)}, unit ${this.#opts.unitId})` : ''
    const details = { path: this.#opts.path, unitId: this.#opts.unitId, register, serial: this.serial, ...(typeof f.modbusCode === 'number' ? { modbusCode: f.modbusCode } : {}) }
    if (line) return new HwError(code, `meter ${this.model} on ${this.#opts.path} never answered${line}: ${text}`, { cause: err, details })
    return new HwError(code, `reading ${what} from meter ${this.model} (unit ${this.#opts.unitId}) failed: ${text}`, { cause: err, details })
  }

  #garbage(what: string, value: number): HwError {
    return new HwError('HW_METER_READ_FAILED', `meter ${this.model} reported an impossible ${what}: ${value}`, { details: { what, value } })
  }
}
