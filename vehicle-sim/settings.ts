/**
 * Where a one-shot command gets its connection, position and range from:
 * command-line flags first, then the `--profile` file (or VOLTWAY_PROFILE),
 * then the VOLTWAY_* environment variables. Anything missing or invalid is a
 * UsageError (exit 2) that names the flag.
 */
import { z } from 'zod'
import { ConfigPosition, Id, Position, RangeKm, formatTime, issuesOf, loadJsonFile, readTlsMaterial } from '../protocol/index.js'
import type { ConnectionSettings } from './connect.js'
import { UsageError } from './errors.js'
import { rangeKm, validateBattery, type BatterySpec } from './vehicle-model.js'

export const MqttUrl = z.string().regex(/^(mqtts?|wss?|tcp):\/\/[^\s]+$/, 'expected a broker URL such as mqtt://127.0.0.1:1883')
export const MqttVersion = z.union([z.literal(4), z.literal(5)])

export const BatterySchema = z.strictObject({
  capacityKwh: z.number().positive().max(10_000),
  soc: z.number().min(0).max(1),
  consumptionKwhPer100Km: z.number().positive().max(1000),
})

export const ProfileSchema = z.strictObject({
  hub: MqttUrl.optional(),
  hubId: Id.optional(),
  vehicle: Id.optional(),
  password: z.string().min(1).max(256).optional(),
  mqttVersion: MqttVersion.optional(),
  position: ConfigPosition.optional(),
  rangeKm: RangeKm.optional(),
  battery: BatterySchema.optional(),
})
export type Profile = z.output<typeof ProfileSchema>

export interface ConnectionFlags {
  hub?: string
  hubId?: string
  /** PEM file of the CA to trust for an mqtts:// hub. */
  ca?: string
  vehicle?: string
  password?: string
  mqttVersion?: number
  profile?: string
  connectTimeoutMs?: number
  timeoutMs?: number
  retries?: number
}

export interface PositionFlags {
  lat?: number
  lon?: number
  rangeKm?: number
  capacityKwh?: number
  soc?: number
  consumption?: number
}

export function loadProfile(file: string | undefined): Profile {
  return file ? loadJsonFile(file, ProfileSchema, `profile ${file}`) : {}
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const profile = loadProfile(flags.profile ?? env.VOLTWAY_PROFILE)
  const pick = (flag: string | undefined, fromProfile: string | undefined, envName: string): string | undefined =>
    flag ?? fromProfile ?? (env[envName] || undefined)
  const url = pick(flags.hub, profile.hub, 'VOLTWAY_HUB')
  const hubId = pick(flags.hubId, profile.hubId, 'VOLTWAY_HUB_ID')
  const vehicleId = pick(flags.vehicle, profile.vehicle, 'VOLTWAY_VEHICLE')
  const password = pick(flags.password, profile.password, 'VOLTWAY_PASSWORD')
  const missing: string[] = []
  if (!url) missing.push('--hub (or VOLTWAY_HUB)')
  if (!hubId) missing.push('--hub-id (or VOLTWAY_HUB_ID)')
  if (!vehicleId) missing.push('--vehicle (or VOLTWAY_VEHICLE)')
  if (password === undefined) missing.push('--password (or VOLTWAY_PASSWORD)')
  if (missing.length > 0 || !url || !hubId || !vehicleId || password === undefined) {
    throw new UsageError(`missing ${missing.join(', ')}; pass the flags, a --profile file, or the environment variables`)
  }
  // A bad value is named where it came from: the flag, or the environment variable (a profile's are checked when it loads).
  const from = (flag: string | undefined, envName: string, flagName: string): string => (flag === undefined && env[envName] ? envName : flagName)
  check(MqttUrl, url, from(flags.hub ?? profile.hub, 'VOLTWAY_HUB', '--hub'))
  check(Id, hubId, from(flags.hubId ?? profile.hubId, 'VOLTWAY_HUB_ID', '--hub-id'))
  check(Id, vehicleId, from(flags.vehicle ?? profile.vehicle, 'VOLTWAY_VEHICLE', '--vehicle'))
  const caFile = flags.ca ?? (env.VOLTWAY_CA || undefined)
  if (caFile !== undefined && !/^(mqtts|wss):/.test(url)) throw new UsageError('--ca: needs an mqtts:// (or wss://) --hub')
  const { ca } = caFile === undefined ? {} : readTlsMaterial('--ca', { ca: caFile })
  const version = flags.mqttVersion ?? profile.mqttVersion ?? 4
  if (version !== 4 && version !== 5) throw new UsageError('--mqtt-version: expected 4 (MQTT 3.1.1) or 5')
  return {
    url,
    hubId,
    vehicleId,
    password,
    mqttVersion: version,
    connectTimeoutMs: flags.connectTimeoutMs ?? 5000,
    ...(flags.timeoutMs !== undefined ? { requestTimeoutMs: flags.timeoutMs } : {}),
    timeoutFor: defaultTimeoutMs,
    retries: flags.retries ?? DEFAULT_RETRIES,
    ...(ca ? { ca } : {}),
  }
}

/**
 * How many times a request unanswered after --timeout-ms is sent again with
 * the same request id, each copy waiting --timeout-ms again (--retries): the
 * hub answers a repeat with the first answer and acts once (docs/protocol.md
 * "Repeated requests").
 */
export const DEFAULT_RETRIES = 2

/** How long a one-shot command waits for an answer by default, ms. */
export const DEFAULT_TIMEOUT_MS = 10_000
/**
 * The default wait for ops that wait on a station, ms. The hub gives a station
 * 10 s to answer `start`/`stop` (and `start` the rest of those 10 s for its
 * first meter reading) and then answers with a code of its own (TIMEOUT with
 * the station's id, METER_FAULT): the CLI must wait longer than that, or it
 * gives up before the hub's answer arrives.
 */
export const STATION_OP_TIMEOUT_MS = 25_000
const STATION_OPS: ReadonlySet<string> = new Set(['charge.start', 'charge.stop'])

/** The default --timeout-ms for an op. */
export function defaultTimeoutMs(op: string): number {
  return STATION_OPS.has(op) ? STATION_OP_TIMEOUT_MS : DEFAULT_TIMEOUT_MS
}

/** Position and range for ops that need them; range from --range-km, or from the battery flags. */
export function resolvePositionRange(flags: PositionFlags & { profile?: string }, env: NodeJS.ProcessEnv = process.env): { position: Position; rangeKm: number } {
  const profile = loadProfile(flags.profile ?? env.VOLTWAY_PROFILE)
  const lat = flags.lat ?? profile.position?.lat
  const lon = flags.lon ?? profile.position?.lon
  if (lat === undefined || lon === undefined) throw new UsageError('missing --lat and --lon (the vehicle position)')
  const position = check(Position, { lat, lon }, '--lat/--lon')
  let range = flags.rangeKm
  if (range === undefined && (flags.capacityKwh !== undefined || flags.soc !== undefined || flags.consumption !== undefined)) {
    const b: Partial<BatterySpec> = { ...profile.battery }
    if (flags.capacityKwh !== undefined) b.capacityKwh = flags.capacityKwh
    if (flags.soc !== undefined) b.soc = flags.soc
    if (flags.consumption !== undefined) b.consumptionKwhPer100Km = flags.consumption
    range = batteryRange(b)
  }
  range ??= profile.rangeKm ?? (profile.battery ? batteryRange(profile.battery) : undefined)
  if (range === undefined) throw new UsageError('missing --range-km (or the battery flags --capacity-kwh --soc --consumption)')
  return { position, rangeKm: check(RangeKm, Math.round(range * 1000) / 1000, '--range-km') }
}

function batteryRange(b: Partial<BatterySpec>): number {
  if (b.capacityKwh === undefined || b.soc === undefined || b.consumptionKwhPer100Km === undefined) {
    throw new UsageError('the battery flags need all three of --capacity-kwh, --soc and --consumption')
  }
  const spec = { capacityKwh: b.capacityKwh, soc: b.soc, consumptionKwhPer100Km: b.consumptionKwhPer100Km }
  try {
    validateBattery(spec)
  } catch (err) {
    throw new UsageError(`battery: ${(err as Error).message}`)
  }
  const r = rangeKm(spec)
  if (!(r > 0)) throw new UsageError('battery: the range is 0 km (soc 0); charge first or pass --range-km')
  return r
}

function check<S extends z.ZodType>(schema: S, value: unknown, flag: string): z.output<S> {
  const r = schema.safeParse(value)
  if (!r.success) throw new UsageError(`${flag}: ${issuesOf(r.error)[0]?.message ?? 'invalid value'}`)
  return r.data
}

/**
 * A time flag: RFC 3339 (`2026-11-24T18:00:00Z`, or local `2026-11-24T15:00`),
 * `now`, or relative `+2h`, `+150m`, `+1h30m`, `+90s`. Returns RFC 3339 UTC.
 */
export function parseTimeFlag(value: string, flag: string, nowMs = Date.now()): string {
  const v = value.trim()
  if (v === 'now') return formatTime(nowMs)
  const rel = /^\+(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(v)
  if (rel && v !== '+') {
    const [, d, h, m, s] = rel
    const ms = ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(m ?? 0)) * 60_000 + Number(s ?? 0) * 1000
    return formatTime(nowMs + ms)
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/.test(v)) {
    const ms = Date.parse(v)
    if (Number.isFinite(ms)) return formatTime(ms)
  }
  throw new UsageError(`${flag}: expected an RFC 3339 time (2026-11-24T18:00:00Z), "now", or a relative time such as +2h or +2h30m`)
}
