/**
 * A federation of real hubs in ONE process for the vehicle simulator's
 * end-to-end tests: each hub with its embedded broker and SQLite store on free
 * loopback ports (peers need each other's HTTP URL before they start), every
 * hub knowing every other, each vehicle registered at its home hub only (it
 * charges at the others through it: roaming), and a station agent on a mock
 * board per station.
 * The meter register of every agent is read right after it starts, so a test
 * can compare "energy metered" with "energy on receipts" exactly.
 */
import { join } from 'node:path'
import type { Hub } from '../../hub/app.js'
import { HubConfigSchema, type HubConfig } from '../../hub/config.js'
import type { Position } from '../../protocol/index.js'
import type { StationAgent } from '../../station/agent.js'
import { agentConfig, startAgentFor } from './charging-e2e.js'
import { startTestHub, tempDir } from './hub.js'
import { freePort, waitUntil } from './net.js'

export interface FedHubSpec {
  hubId: string
  name: string
  city: string
  position: Position
  stations: Array<{ stationId: string; position: Position; powerKw: number; priceMinorPerKwh: number }>
}

export interface VehicleFederationOptions {
  hubs: FedHubSpec[]
  links: Array<{ from: string; to: string; distanceKm: number }>
  /** Each registered at its home hub `hubId` only. */
  vehicles: Array<{ hubId: string; vehicleId: string; password: string }>
  /** What the mock meters deliver while their relay is closed (default: the station's powerKw). */
  meterPowerKw?: number
}

export interface VehicleFederation {
  hubs: Map<string, Hub>
  agents: Map<string, StationAgent>
  /** Station id -> hub id. */
  hubOfStation: Map<string, string>
  /** Meter register (Wh) of each agent right after it started. */
  meterAtStartWh: Map<string, number>
  /** Sum over every agent of (register now - register at start). */
  meteredSinceStartWh(): Promise<number>
  close(): Promise<void>
}

export async function startVehicleFederation(o: VehicleFederationOptions): Promise<VehicleFederation> {
  const ports = new Map<string, { mqtt: number; http: number }>()
  for (const h of o.hubs) ports.set(h.hubId, { mqtt: await freePort(), http: await freePort() })
  const token = (from: string, to: string): string => `token-${from}-to-${to}-0123456789abcdef`
  const configs: HubConfig[] = o.hubs.map((h) => {
    const p = ports.get(h.hubId) as { mqtt: number; http: number }
    return HubConfigSchema.parse({
      hubId: h.hubId,
      name: h.name,
      city: h.city,
      position: h.position,
      currency: 'BRL',
      dataDir: tempDir(`voltway-vfed-${h.hubId}-`),
      mqtt: { listen: { host: '127.0.0.1', port: p.mqtt } },
      http: { host: '127.0.0.1', port: p.http },
      stations: h.stations.map((s) => ({ ...s, password: `${s.stationId}-secret-pass` })),
      vehicles: o.vehicles.filter((v) => v.hubId === h.hubId).map(({ vehicleId, password }) => ({ vehicleId, password })),
      federation: {
        peers: o.hubs
          .filter((x) => x.hubId !== h.hubId)
          .map((x) => ({ hubId: x.hubId, url: `http://127.0.0.1:${ports.get(x.hubId)?.http}`, token: token(h.hubId, x.hubId), acceptToken: token(x.hubId, h.hubId) })),
        links: o.links,
      },
      rules: { windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30 },
    })
  })

  const hubs = new Map<string, Hub>()
  const agents = new Map<string, StationAgent>()
  const hubOfStation = new Map<string, string>()
  const meterAtStartWh = new Map<string, number>()
  const close = async (): Promise<void> => {
    await Promise.allSettled([...agents.values()].map((a) => a.stop()))
    await Promise.allSettled([...hubs.values()].map((h) => h.close()))
  }
  try {
    for (const cfg of configs) hubs.set(cfg.hubId, await startTestHub(cfg, { ephemeralPorts: false }))
    await Promise.all(
      configs.flatMap((cfg) => {
        const hub = hubs.get(cfg.hubId) as Hub
        return cfg.stations.map(async (st) => {
          const agent = await startAgentFor(agentConfig(hub, st, { powerKw: o.meterPowerKw ?? st.powerKw, dataDir: join(tempDir('voltway-vfed-agent-'), st.stationId) }))
          agents.set(st.stationId, agent)
          hubOfStation.set(st.stationId, cfg.hubId)
          meterAtStartWh.set(st.stationId, (await agent.hardware.meter.read()).energyWh)
        })
      }),
    )
    // Every station online and available at its hub before any vehicle asks.
    await waitUntil(
      () => [...hubs.values()].every((h) => h.context.stations.all().every((s) => s.live.online && s.live.status === 'available')),
      10_000,
      'every station online at its hub',
    )
  } catch (err) {
    await close()
    throw err
  }
  return {
    hubs,
    agents,
    hubOfStation,
    meterAtStartWh,
    async meteredSinceStartWh() {
      let sum = 0
      for (const [id, agent] of agents) sum += (await agent.hardware.meter.read()).energyWh - (meterAtStartWh.get(id) ?? 0)
      return sum
    },
    close,
  }
}
