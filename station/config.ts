/** station.json (docs/configuration.md): schema, defaults and loading. */
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { Id, loadJsonFile, makeConfiguredDirectory, readTlsMaterial, resolveConfigPath } from '../protocol/index.js'

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
    unitId: z.number().int().min(1).max(247).default(1),
    model: z.string().min(1).max(64).default('SDM120'),
    timeoutMs: z.number().int().positive().max(60_000).default(1000),
    /** Serial settings; each one left out is the model's factory default (hw/meter-models.ts). */
    baudRate: BaudRate.optional(),
    parity: z.enum(['none', 'even', 'odd']).optional(),
    dataBits: z.union([z.literal(7), z.literal(8)]).optional(),
    stopBits: z.union([z.literal(1), z.literal(2)]).optional(),
  }),
  z.strictObject({ type: z.literal('s0'), pin: z.union([z.number().int().nonnegative(), z.string().min(1).max(16)]), pulsesPerKwh: z.number().int().positive().max(100_000) }),
])

/** An external hardware watchdog whose trigger input is wired to `pin` (docs/technician-guide.md). */
export const WatchdogConfig = z.strictObject({
  pin: z.union([z.number().int().nonnegative(), z.string().min(1).max(16)]),
  /** The watchdog chip's timeout: it opens the relay when no edge came for this long. */
  periodMs: z.number().int().min(200).max(60_000).default(2000),
})

/** The RFID card reader at the charger (hw/types.ts CardReader; docs/configuration.md). */
export const CardReaderConfig = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('mock'), debounceMs: z.number().int().min(100).max(10_000).optional() }),
  z.strictObject({ type: z.literal('rdm6300'), path: SerialPath, baudRate: BaudRate.default(9600), debounceMs: z.number().int().min(100).max(10_000).optional() }),
])

/** Cards at the charger: how long the agent waits for its hub's answer before it asks its local cache. */
export const CardsConfig = z.strictObject({
  authTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
})

/** How readings are judged (station/meter-watch.ts). */
export const MeterChecksConfig = z.strictObject({
  /** A register that does not move while power flows through closed contacts is METER_STALE after this long. */
  staleAfterSeconds: z.number().min(1).max(3600).default(10),
  /** The most power that can flow (the supply or the meter's rating); a register jump beyond it is METER_JUMP. Default: per meter. */
  maxPowerKw: z.number().positive().max(2000).optional(),
})

export const StationConfigSchema = z.strictObject({
  stationId: Id,
  hubId: Id,
  mqtt: z
    .strictObject({
      url: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, 'expected an mqtt:// or mqtts:// URL'),
      username: z.string().min(1).optional(),
      password: z.string().min(1),
      /** PEM file of the CA that signed the broker's certificate, for an `mqtts://` url (default: the system's CAs). */
      ca: z.string().min(1).max(4096).optional(),
    })
    .refine((m) => m.ca === undefined || /^(mqtts|wss):/.test(m.url), { message: 'a "ca" needs an mqtts:// (or wss://) url', path: ['ca'] }),
  dataDir: z.string().min(1),
  hardware: z.strictObject({
    board: BoardConfig,
    relay: RelayConfig,
    meter: MeterConfig,
    watchdog: WatchdogConfig.optional(),
    cardReader: CardReaderConfig.optional(),
    meterChecks: MeterChecksConfig.default({ staleAfterSeconds: 10 }),
  }),
  telemetryIntervalMs: z.number().int().min(100).max(3_600_000).default(2000),
  cards: CardsConfig.default({ authTimeoutMs: 5000 }),
  offline: z.strictObject({ maxChargeMinutes: z.number().min(0).max(24 * 60).default(30) }).default({ maxChargeMinutes: 30 }),
})

export type StationConfig = z.output<typeof StationConfigSchema>

export function loadStationConfig(file: string): StationConfig {
  const cfg = loadJsonFile(file, StationConfigSchema)
  const dir = dirname(file)
  const loaded = { ...cfg, dataDir: resolve(dir, cfg.dataDir), mqtt: { ...cfg.mqtt, ca: resolveConfigPath(dir, cfg.mqtt.ca) } }
  // Read once here so a bad CA file stops the command at once, naming the file (exit 2).
  mqttTls(loaded, file)
  return loaded
}

/**
 * Create `dataDir` if missing and check that the agent can write in it;
 * ConfigError `<label>: dataDir "...": ...; <hint>` when it cannot.
 */
export function makeDataDir(cfg: Pick<StationConfig, 'dataDir'>, label = 'station.json'): void {
  makeConfiguredDirectory(
    cfg.dataDir,
    `${label}: dataDir "${cfg.dataDir}"`,
    "check that the directory exists or can be created, that the agent's user may write it, that its file system is not mounted read-only and has free space",
  )
}

/** The TLS options of the broker connection (mqtt.js `ca`); ConfigError when `mqtt.ca` cannot be read or is not a certificate. */
export function mqttTls(cfg: StationConfig, label = 'station.json'): { ca?: Buffer } {
  if (cfg.mqtt.ca === undefined) return {}
  const { ca } = readTlsMaterial(`${label}: mqtt`, { ca: cfg.mqtt.ca })
  return ca ? { ca } : {}
}
