/** hub.json (CONFIG.md): schema, defaults and loading. */
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { Currency, Id, Position, loadJsonFile } from '../protocol/index.js'

const Port = z.number().int().min(0).max(65535)
const Host = z.string().min(1).max(255)
const Secret = z.string().min(1).max(256)
/** Bearer tokens travel in an HTTP header: visible ASCII, no spaces (RFC 6750 b64token is narrower still). */
const Token = z.string().regex(/^[\x21-\x7e]{1,512}$/, 'expected 1 to 512 visible ASCII characters without spaces')

export const StationEntry = z.object({
  stationId: Id,
  position: Position,
  powerKw: z.number().positive().max(2000),
  priceMinorPerKwh: z.number().int().nonnegative().max(1_000_000),
  password: Secret,
})

export const HubConfigSchema = z.object({
  hubId: Id,
  name: z.string().min(1).max(200),
  city: z.string().min(1).max(200),
  position: Position,
  currency: Currency,
  dataDir: z.string().min(1),
  mqtt: z
    .union([
      z.object({
        listen: z.object({ host: Host.default('127.0.0.1'), port: Port }),
        allowAnonymous: z.boolean().default(false),
      }),
      z.object({ url: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, 'expected an mqtt:// or mqtts:// URL'), username: z.string().min(1).optional(), password: z.string().optional() }),
    ])
    .default({ listen: { host: '127.0.0.1', port: 1883 }, allowAnonymous: false }),
  http: z.object({ host: Host.default('127.0.0.1'), port: Port }),
  stations: z.array(StationEntry).default([]),
  vehicles: z.array(z.object({ vehicleId: Id, password: Secret })).default([]),
  federation: z
    .object({
      peers: z
        .array(
          z.object({
            hubId: Id,
            url: z.url({ protocol: /^https?$/ }),
            token: Token,
            acceptToken: Token,
          }),
        )
        .default([]),
      links: z.array(z.object({ from: Id, to: Id, distanceKm: z.number().positive() })).default([]),
    })
    .default({ peers: [], links: [] }),
  rules: z
    .object({
      windowMinutes: z.number().int().min(0).max(24 * 60).default(120),
      minLeadMinutes: z.number().int().min(0).max(7 * 24 * 60).default(120),
      holdTtlSeconds: z.number().int().min(1).max(3600).default(30),
    })
    .default({ windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30 }),
}).superRefine((cfg, ctx) => {
  const seen = new Set<string>()
  cfg.stations.forEach((s, i) => {
    if (seen.has(s.stationId)) ctx.addIssue({ code: 'custom', path: ['stations', i, 'stationId'], message: `duplicate station id ${s.stationId}` })
    seen.add(s.stationId)
  })
  const vseen = new Set<string>()
  cfg.vehicles.forEach((v, i) => {
    if (vseen.has(v.vehicleId)) ctx.addIssue({ code: 'custom', path: ['vehicles', i, 'vehicleId'], message: `duplicate vehicle id ${v.vehicleId}` })
    vseen.add(v.vehicleId)
  })
  const peerIds = new Set<string>()
  const accepted = new Set<string>()
  cfg.federation.peers.forEach((p, i) => {
    if (p.hubId === cfg.hubId) ctx.addIssue({ code: 'custom', path: ['federation', 'peers', i, 'hubId'], message: 'a hub cannot be its own peer' })
    if (peerIds.has(p.hubId)) ctx.addIssue({ code: 'custom', path: ['federation', 'peers', i, 'hubId'], message: `duplicate peer ${p.hubId}` })
    peerIds.add(p.hubId)
    // The token a peer sends is how we tell who calls: two peers with one token could act as each other.
    if (accepted.has(p.acceptToken)) ctx.addIssue({ code: 'custom', path: ['federation', 'peers', i, 'acceptToken'], message: 'another peer already uses this acceptToken' })
    accepted.add(p.acceptToken)
  })
})

export type HubConfig = z.output<typeof HubConfigSchema>

/** Load and validate hub.json; relative paths become relative to the file. Throws ConfigError. */
export function loadHubConfig(file: string): HubConfig {
  const cfg = loadJsonFile(file, HubConfigSchema, 'hub.json')
  return { ...cfg, dataDir: resolve(dirname(file), cfg.dataDir) }
}
