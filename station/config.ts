/** station.json (docs/configuration.md): schema, defaults and loading. */
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { Id, loadJsonFile } from '../protocol/index.js'

const SerialPath = z.string().min(1).max(255)
const BaudRate = z.number().int().positive().max(4_000_000)

export const BoardConfig = z.union([
  z.strictObject({
    type: z.literal('mock'),
    pluggedIn: z.boolean().default(true),
    /** The simulated firmware opens the relay when the agent's heartbeat is older than this. */
    watchdogMs: z.number().int().min(100).max(600_000).default(3000),
  }),
  z.strictObject({ type: z.literal('firmata'), path: SerialPath, baudRate: BaudRate.default(57600) }),
  z.strictObject({ type: z.literal('plugin'), module: z.string().min(1), export: z.string().min(1).max(128).optional(), options: z.record(z.string(), z.unknown()).default({}) }),
])

export const RelayConfig = z.strictObject({
  pin: z.union([z.number().int().nonnegative(), z.string().min(1).max(16)]),
  type: z.enum(['NO', 'NC']).default('NO'),
})

export const MeterConfig = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('mock'), powerKw: z.number().positive().max(2000), startWh: z.number().int().nonnegative().default(0) }),
  z.strictObject({
    type: z.literal('modbus-rtu'),
    path: SerialPath,
    baudRate: BaudRate.default(9600),
    unitId: z.number().int().min(1).max(247).default(1),
    model: z.string().min(1).max(64).default('SDM120'),
    timeoutMs: z.number().int().positive().max(60_000).default(1000),
  }),
  z.strictObject({ type: z.literal('s0'), pin: z.union([z.number().int().nonnegative(), z.string().min(1).max(16)]), pulsesPerKwh: z.number().int().positive().max(100_000) }),
])

export const StationConfigSchema = z.strictObject({
  stationId: Id,
  hubId: Id,
  mqtt: z.strictObject({
    url: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, 'expected an mqtt:// or mqtts:// URL'),
    username: z.string().min(1).optional(),
    password: z.string().min(1),
  }),
  dataDir: z.string().min(1),
  hardware: z.strictObject({ board: BoardConfig, relay: RelayConfig, meter: MeterConfig }),
  telemetryIntervalMs: z.number().int().min(100).max(3_600_000).default(2000),
  offline: z.strictObject({ maxChargeMinutes: z.number().min(0).max(24 * 60).default(30) }).default({ maxChargeMinutes: 30 }),
})

export type StationConfig = z.output<typeof StationConfigSchema>

export function loadStationConfig(file: string): StationConfig {
  const cfg = loadJsonFile(file, StationConfigSchema)
  return { ...cfg, dataDir: resolve(dirname(file), cfg.dataDir) }
}
