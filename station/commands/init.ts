/** `voltway station init`: print a station.json for this board, validated before it is printed. */
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { isHwError } from '../../hw/errors.js'
import { registerMap } from '../../hw/meter-models.js'
import { ConfigError, issuesOf, readTlsMaterial } from '../../protocol/index.js'
import { StationConfigSchema, type StationConfig } from '../config.js'

export interface InitOptions {
  id: string
  hub: string
  /** PEM file of the CA that signed the hub broker's certificate (an `mqtts://` hub); kept as an absolute path in station.json. */
  ca?: string
  hubId?: string
  password?: string
  dataDir?: string
  board?: string
  serial?: string
  baud?: string
  relayPin?: string
  relayType?: string
  meter?: string
  meterSerial?: string
  meterBaud?: string
  meterModel?: string
  unitId?: string
  s0Pin?: string
  pulsesPerKwh?: string
  powerKw?: string
  offlineMinutes?: string
}

/** The flag that sets each station.json field init writes: a refused value is named by what the technician typed. */
const FLAG_OF_FIELD: Record<string, string> = {
  stationId: '--id',
  hubId: '--hub-id',
  'mqtt.url': '--hub',
  'mqtt.password': '--password',
  'mqtt.ca': '--ca',
  dataDir: '--data-dir',
  'hardware.board.path': '--serial',
  'hardware.board.baudRate': '--baud',
  'hardware.relay.pin': '--relay-pin',
  'hardware.relay.type': '--relay-type',
  'hardware.meter.powerKw': '--power-kw',
  'hardware.meter.path': '--meter-serial',
  'hardware.meter.baudRate': '--meter-baud',
  'hardware.meter.unitId': '--unit-id',
  'hardware.meter.pin': '--s0-pin',
  'hardware.meter.pulsesPerKwh': '--pulses-per-kwh',
  'offline.maxChargeMinutes': '--offline-minutes',
}

/** The config for these options; throws ConfigError (exit 2) naming the option, or HwError for an unknown meter model. */
export function buildStationConfig(o: InitOptions): { config: StationConfig; generatedPassword: boolean } {
  const board = o.board ?? 'mock'
  const meter = o.meter ?? 'mock'
  const num = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isFinite(n)) throw new ConfigError(`station init: ${flag}: expected a number, got "${v}"`)
    return n
  }
  const pin = (v: string | undefined, dflt: number): number | string => (v === undefined ? dflt : /^\d+$/.test(v) ? Number(v) : v)
  let boardCfg: unknown
  if (board === 'mock') boardCfg = { type: 'mock' }
  else if (board === 'firmata') {
    if (!o.serial) throw new ConfigError('station init: --board firmata needs --serial <path>, e.g. /dev/ttyACM0')
    boardCfg = { type: 'firmata', path: o.serial, baudRate: num(o.baud, '--baud') ?? 57600 }
  } else throw new ConfigError(`station init: --board: expected mock or firmata, got "${board}"`)
  let meterCfg: unknown
  if (meter === 'mock') {
    if (board !== 'mock') throw new ConfigError('station init: --meter mock needs --board mock (it simulates the car behind the relay)')
    meterCfg = { type: 'mock', powerKw: num(o.powerKw, '--power-kw') ?? 22 }
  } else if (meter === 'modbus-rtu') {
    if (!o.meterSerial) throw new ConfigError('station init: --meter modbus-rtu needs --meter-serial <path>, e.g. /dev/ttyUSB0')
    const model = o.meterModel ?? 'SDM120'
    try {
      registerMap(model)
    } catch (err) {
      if (isHwError(err)) throw new ConfigError(`station init: --meter-model: ${err.message}`)
      throw err
    }
    meterCfg = {
      type: 'modbus-rtu',
      path: o.meterSerial,
      // Left out: the model's factory setting (hw/meter-models.ts), e.g. 2400 baud on an SDM120.
      ...(o.meterBaud === undefined ? {} : { baudRate: num(o.meterBaud, '--meter-baud') }),
      unitId: num(o.unitId, '--unit-id') ?? 1,
      model: model.toUpperCase(),
    }
  } else if (meter === 's0') {
    if (o.pulsesPerKwh === undefined) throw new ConfigError('station init: --meter s0 needs --pulses-per-kwh <n> (printed on the meter, e.g. 1000)')
    meterCfg = { type: 's0', pin: pin(o.s0Pin, 2), pulsesPerKwh: num(o.pulsesPerKwh, '--pulses-per-kwh') }
  } else throw new ConfigError(`station init: --meter: expected mock, modbus-rtu or s0, got "${meter}"`)
  const generatedPassword = o.password === undefined
  const raw = {
    stationId: o.id,
    hubId: o.hubId ?? 'hub',
    mqtt: { url: o.hub, password: o.password ?? randomBytes(24).toString('base64url'), ...(o.ca === undefined ? {} : { ca: resolve(o.ca) }) },
    dataDir: o.dataDir ?? `./data/${o.id}`,
    hardware: { board: boardCfg, relay: { pin: pin(o.relayPin, 7), type: o.relayType ?? 'NO' }, meter: meterCfg },
    telemetryIntervalMs: 2000,
    offline: { maxChargeMinutes: num(o.offlineMinutes, '--offline-minutes') ?? 30 },
  }
  const parsed = StationConfigSchema.safeParse(raw)
  if (!parsed.success) {
    const [issue] = issuesOf(parsed.error, StationConfigSchema)
    const flag = issue ? FLAG_OF_FIELD[issue.path] : undefined
    const where = issue === undefined ? 'invalid configuration' : flag === undefined ? `${issue.path}: ${issue.message}` : `${flag}: ${issue.message} (station.json ${issue.path})`
    throw new ConfigError(`station init: ${where}`)
  }
  // A CA that is missing or not a certificate is refused now, not when the agent first connects.
  if (parsed.data.mqtt.ca !== undefined) readTlsMaterial('--ca', { ca: parsed.data.mqtt.ca })
  return { config: parsed.data, generatedPassword }
}
