/** hub.json and station.json for every company of the demo, written to a directory so they can be reused. */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HubConfigSchema, type HubConfig } from '../hub/config.js'
import { StationConfigSchema, type StationConfig } from '../station/config.js'
import { COMPANIES, DRIVERS, LINKS } from './companies.js'
import { pickPorts } from './ports.js'
import { makeDirectory } from '../base/make-directory.js'

export interface DemoConfigs {
  hubs: HubConfig[]
  stations: StationConfig[]
}

/** Ports: `basePort + 11..14` for MQTT and `basePort + 21..24` for HTTP; `basePort` 0 picks free ones, all distinct. */
async function ports(basePort: number): Promise<Array<{ mqtt: number; http: number }>> {
  if (basePort === 0) {
    const free = await pickPorts(2 * COMPANIES.length)
    return COMPANIES.map((_, i) => ({ mqtt: free[2 * i] as number, http: free[2 * i + 1] as number }))
  }
  return COMPANIES.map((_, i) => ({ mqtt: basePort + 11 + i, http: basePort + 21 + i }))
}

const secret = (): string => randomBytes(12).toString('base64url')

export async function buildDemoConfigs(dir: string, basePort: number): Promise<DemoConfigs> {
  const assigned = await ports(basePort)
  // One token per ordered pair of hubs: what A sends to B, and B accepts from A.
  const tokens = new Map<string, string>()
  const token = (from: string, to: string): string => {
    const k = `${from}->${to}`
    if (!tokens.has(k)) tokens.set(k, secret())
    return tokens.get(k) as string
  }
  const hubs = COMPANIES.map((c, i) => {
    const p = assigned[i] as { mqtt: number; http: number }
    return HubConfigSchema.parse({
      hubId: c.hubId,
      name: c.name,
      city: c.city,
      position: c.position,
      currency: 'BRL',
      dataDir: join(dir, 'data', c.hubId),
      mqtt: { listen: { host: '127.0.0.1', port: p.mqtt } },
      http: { host: '127.0.0.1', port: p.http },
      stations: c.stations.map((s) => ({ ...s, password: `${s.stationId.toLowerCase()}-${secret()}` })),
      // Each company holds only its own customers' credentials (no competitor's passwords).
      vehicles: DRIVERS.filter((d) => d.home === c.hubId).map((d) => ({ vehicleId: d.vehicleId, password: d.password })),
      federation: {
        peers: COMPANIES.filter((o) => o.hubId !== c.hubId).map((o) => {
          const op = assigned[COMPANIES.indexOf(o)] as { http: number }
          return { hubId: o.hubId, url: `http://127.0.0.1:${op.http}`, token: token(c.hubId, o.hubId), acceptToken: token(o.hubId, c.hubId) }
        }),
        links: LINKS.map((l) => ({ ...l })),
      },
      // The dashboard's login for this company: printed by `voltway demo --keep-running`.
      operators: [{ name: 'operator', token: `op-${c.hubId}-${secret()}` }],
      rules: { windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30 },
    })
  })
  const stations = hubs.flatMap((h, i) =>
    h.stations.map((s) => {
      const spec = COMPANIES[i]?.stations.find((x) => x.stationId === s.stationId)
      return StationConfigSchema.parse({
        stationId: s.stationId,
        hubId: h.hubId,
        mqtt: { url: `mqtt://127.0.0.1:${'listen' in h.mqtt ? h.mqtt.listen.port : 0}`, password: s.password },
        dataDir: join(dir, 'data', s.stationId),
        hardware: { board: { type: 'mock' }, relay: { pin: 7, type: 'NO' }, meter: { type: 'mock', powerKw: spec?.powerKw ?? 22 } },
        telemetryIntervalMs: 500,
        offline: { maxChargeMinutes: 30 },
      })
    }),
  )
  return { hubs, stations }
}

/** Write the configs as files a user can start by hand: `voltway hub --config DIR/salvador.hub.json`. */
export function writeDemoConfigs(dir: string, cfgs: DemoConfigs): string[] {
  makeDirectory(dir)
  const files: string[] = []
  for (const h of cfgs.hubs) {
    const file = join(dir, `${h.hubId}.hub.json`)
    writeFileSync(file, `${JSON.stringify(h, null, 2)}\n`, { mode: 0o600 })
    files.push(file)
  }
  for (const s of cfgs.stations) {
    const file = join(dir, `${s.stationId}.station.json`)
    writeFileSync(file, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 })
    files.push(file)
  }
  return files
}
