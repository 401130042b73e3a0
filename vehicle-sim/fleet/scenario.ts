/**
 * The fleet scenario file: which hubs, which vehicle credentials, where the
 * cars start, where they go, their batteries, how they book and charge, the
 * simulated clock and when to stop. Validated like a config file: a bad file
 * is a ConfigError naming the field (exit 2).
 */
import { z } from 'zod'
import { ConfigError, ID_PATTERN, Id, ConfigPosition, formatIssues, loadJsonFile } from '../../protocol/index.js'
import { MqttUrl, MqttVersion } from '../settings.js'

/** A fixed number, or `{min, max}` drawn uniformly per vehicle. */
const Spread = (lo: number, hi: number) =>
  z.union([
    z.number().min(lo).max(hi),
    z.strictObject({ min: z.number().min(lo).max(hi), max: z.number().min(lo).max(hi) }).refine((r) => r.min <= r.max, { message: 'min must be <= max', path: ['max'] }),
  ])

const GeneratedCredentials = z.strictObject({
  /** Vehicle ids are `<prefix><n>`, n from `first` to `first + count - 1`, zero-padded to `pad` digits. */
  prefix: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'expected 1 to 40 characters of A-Z a-z 0-9 _ -'),
  count: z.number().int().min(1).max(100_000),
  first: z.number().int().min(0).default(1),
  pad: z.number().int().min(0).max(12).default(0),
  /** `{id}` becomes the vehicle id, `{n}` its number. */
  password: z.string().min(1).max(256),
})

const ExplicitCredentials = z.array(z.strictObject({ vehicleId: Id, password: z.string().min(1).max(256) })).min(1)

export const StartArea = z.strictObject({
  /** Default: the home hub's position (from hub.info). */
  center: ConfigPosition.optional(),
  radiusKm: z.number().min(0).max(2000).default(10),
  /** Fixed start positions, handed out in turn; overrides center/radius. */
  positions: z.array(ConfigPosition).min(1).optional(),
})

const HubEntry = z.strictObject({
  hubId: Id,
  url: MqttUrl,
  mqttVersion: MqttVersion.default(4),
  /**
   * This hub's own vehicles. A hub listed without vehicles gets no connection:
   * vehicles charge at its stations through their home hub (roaming), so
   * such an entry is only kept so older scenarios still load.
   */
  vehicles: z.union([GeneratedCredentials, ExplicitCredentials]).optional(),
  start: StartArea.optional(),
  /** Destination hub ids for this hub's vehicles; default: the scenario's, else the hub's peers. */
  destinations: z.array(Id).min(1).optional(),
})

export const ScenarioSchema = z
  .strictObject({
    name: z.string().max(200).optional(),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
    hubs: z.array(HubEntry).min(1),
    /** Simulate at most this many of the listed vehicles. */
    maxVehicles: z.number().int().min(1).optional(),
    start: StartArea.default({ radiusKm: 10 }),
    destinations: z.array(Id).min(1).optional(),
    battery: z
      .strictObject({
        capacityKwh: Spread(1, 1000).default(60),
        soc: Spread(0, 1).default({ min: 0.3, max: 0.9 }),
        consumptionKwhPer100Km: Spread(1, 200).default(18),
      })
      .default({ capacityKwh: 60, soc: { min: 0.3, max: 0.9 }, consumptionKwhPer100Km: 18 }),
    driving: z.strictObject({ speedKmh: Spread(5, 300).default(80), journeys: z.number().int().min(1).max(100).default(1) }).default({ speedKmh: 80, journeys: 1 }),
    policy: z
      .strictObject({
        /** `trip`: reserve the whole route (route.reserve) before leaving; `nearest`: reservation.create when low; `mixed`: tripShare of each. */
        booking: z.enum(['trip', 'nearest', 'mixed']).default('mixed'),
        tripShare: z.number().min(0).max(1).default(0.5),
        lowSoc: z.number().min(0).max(1).default(0.25),
        targetSoc: z.number().min(0).max(1).default(0.9),
        /** Reservation times are this far ahead of the hub's wall clock (hubs ask for 120 min by default). */
        leadMinutes: z.number().min(0).max(7 * 24 * 60).default(125),
        /** After a failed booking, wait this long (simulated) before the next try. */
        retryMinutes: z.number().min(0).max(24 * 60).default(20),
      })
      .default({ booking: 'mixed', tripShare: 0.5, lowSoc: 0.25, targetSoc: 0.9, leadMinutes: 125, retryMinutes: 20 }),
    charging: z
      .strictObject({
        statusIntervalMs: z.number().int().min(50).max(600_000).default(2000),
        /** Battery power assumed until charge.status reports one. */
        assumedPowerKw: z.number().positive().max(2000).default(22),
        /** End a session after this many real seconds even if the battery is not at targetSoc. */
        maxRealSeconds: z.number().positive().max(86_400).default(30),
      })
      .default({ statusIntervalMs: 2000, assumedPowerKw: 22, maxRealSeconds: 30 }),
    clock: z
      .strictObject({
        /** Simulated seconds per real second. */
        compression: z.number().positive().max(1_000_000).default(60),
        tickMs: z.number().int().min(10).max(10_000).default(200),
      })
      .default({ compression: 60, tickMs: 200 }),
    stop: z
      .strictObject({
        simMinutes: z.number().positive().optional(),
        realSeconds: z.number().positive().max(7 * 86_400).optional(),
        /** Stop once every vehicle has arrived, is stranded or could not connect. */
        whenAllDone: z.boolean().default(true),
      })
      .default({ whenAllDone: true }),
    connect: z
      .strictObject({
        concurrency: z.number().int().min(1).max(10_000).default(100),
        timeoutMs: z.number().int().min(100).max(600_000).default(10_000),
      })
      .default({ concurrency: 100, timeoutMs: 10_000 }),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(15_000),
    /** Times a request unanswered after requestTimeoutMs is sent again with the same request id (the hub acts once). */
    requestRetries: z.number().int().min(0).max(10).default(2),
    /** At the end: stop running sessions, cancel trips and reservations not yet used. */
    cleanup: z.boolean().default(true),
  })
  .superRefine((s, ctx) => {
    if (s.policy.targetSoc <= s.policy.lowSoc) ctx.addIssue({ code: 'custom', path: ['policy', 'targetSoc'], message: 'must be greater than policy.lowSoc' })
    if (!s.stop.whenAllDone && s.stop.simMinutes === undefined && s.stop.realSeconds === undefined) {
      ctx.addIssue({ code: 'custom', path: ['stop'], message: 'needs simMinutes, realSeconds or whenAllDone: true' })
    }
    const seen = new Set<string>()
    s.hubs.forEach((h, i) => {
      if (seen.has(h.hubId)) ctx.addIssue({ code: 'custom', path: ['hubs', i, 'hubId'], message: `duplicate hub ${h.hubId}` })
      seen.add(h.hubId)
      if (h.vehicles !== undefined && !Array.isArray(h.vehicles)) {
        const last = String(h.vehicles.first + h.vehicles.count - 1).padStart(h.vehicles.pad, '0')
        if (!ID_PATTERN.test(`${h.vehicles.prefix}${last}`)) ctx.addIssue({ code: 'custom', path: ['hubs', i, 'vehicles', 'prefix'], message: 'the generated vehicle ids would be longer than 64 characters' })
      }
    })
  })

export type Scenario = z.output<typeof ScenarioSchema>
export type ScenarioInput = z.input<typeof ScenarioSchema>
export type HubEntry = Scenario['hubs'][number]
export type SpreadValue = number | { min: number; max: number }

export function loadScenario(file: string): Scenario {
  return loadJsonFile(file, ScenarioSchema, `scenario ${file}`)
}

export function parseScenario(input: unknown, label = 'scenario'): Scenario {
  const r = ScenarioSchema.safeParse(input)
  if (r.success) return r.data
  throw new ConfigError(formatIssues(label, r.error, ScenarioSchema))
}

export interface Credential {
  vehicleId: string
  password: string
}

/** Every vehicle credential of a hub entry, in order. */
export function credentialsOf(h: HubEntry): Credential[] {
  if (h.vehicles === undefined) return []
  if (Array.isArray(h.vehicles)) return h.vehicles.map((v) => ({ vehicleId: v.vehicleId, password: v.password }))
  const g = h.vehicles
  return Array.from({ length: g.count }, (_, i) => {
    const n = String(g.first + i).padStart(g.pad, '0')
    const vehicleId = `${g.prefix}${n}`
    return { vehicleId, password: g.password.replaceAll('{id}', vehicleId).replaceAll('{n}', n) }
  })
}
