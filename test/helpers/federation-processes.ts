/**
 * A federation of real `voltway hub` PROCESSES on loopback: hub.json files
 * with free ports and tokens for each other, spawned from the CLI; plus
 * what a test needs to look inside (peer tokens, the SQLite files).
 */
import { join } from 'node:path'
import type { HubConfig } from '../../hub/config.js'
import { SqliteStore } from '../../hub/store/index.js'
import { FedStations, type Position } from '../../protocol/index.js'
import { specConfig, token, type HubSpec } from './federation-hubs.js'
import { tempDir } from './hub.js'
import { freePort } from './net.js'
import { spawnHub, type HubProcess } from './hub-process.js'

export const VEHICLES = [
  { vehicleId: 'V1', password: 'v1-pass' },
  { vehicleId: 'V2', password: 'v2-pass' },
]

export interface ProcessFederation {
  dir: string
  configs: Record<string, HubConfig>
  procs: Record<string, HubProcess>
  /** (Re)start one hub process from its config. */
  start(hubId: string): Promise<HubProcess>
  /** Read a hub's database from this process (WAL: safe beside the running hub). */
  withStore<T>(hubId: string, fn: (s: SqliteStore) => Promise<T>): Promise<T>
  /** Ask `hubId`'s federation API, as peer `asPeer`, whether its stations near `position` are free at `at`. */
  stationsFree(hubId: string, asPeer: string, position: Position, at: string): Promise<Record<string, boolean>>
  close(): Promise<void>
}

export async function processFederation(opts: {
  specs: HubSpec[]
  links: Array<{ from: string; to: string; distanceKm: number }>
  fakePeers?: Array<{ hubId: string; url: string }>
  rules?: Partial<HubConfig['rules']>
}): Promise<ProcessFederation> {
  const dir = tempDir('voltway-fedproc-')
  const http = new Map<string, number>()
  for (const s of opts.specs) http.set(s.hubId, await freePort())
  const urls = new Map([...http].map(([id, p]) => [id, `http://127.0.0.1:${p}`]))
  for (const f of opts.fakePeers ?? []) urls.set(f.hubId, f.url)
  const configs: Record<string, HubConfig> = {}
  for (const s of opts.specs) {
    configs[s.hubId] = specConfig(s, {
      dataDir: join(dir, s.hubId),
      mqtt: { listen: { host: '127.0.0.1', port: await freePort() } },
      httpPort: http.get(s.hubId) ?? 0,
      vehicles: VEHICLES,
      peers: [...urls].filter(([id]) => id !== s.hubId).map(([id, url]) => ({ hubId: id, url, token: token(s.hubId, id), acceptToken: token(id, s.hubId) })),
      links: opts.links,
      ...(opts.rules ? { rules: opts.rules } : {}),
    })
  }
  const procs: Record<string, HubProcess> = {}
  const start = async (hubId: string): Promise<HubProcess> => {
    const p = await spawnHub(configs[hubId] as HubConfig, dir, 30_000)
    procs[hubId] = p
    return p
  }
  await Promise.all(opts.specs.map((s) => start(s.hubId)))
  return {
    dir,
    configs,
    procs,
    start,
    async withStore(hubId, fn) {
      const store = new SqliteStore({ dataDir: (configs[hubId] as HubConfig).dataDir })
      try {
        return await fn(store)
      } finally {
        await store.close()
      }
    },
    async stationsFree(hubId, asPeer, position, at) {
      const qs = new URLSearchParams({ lat: String(position.lat), lon: String(position.lon), rangeKm: '50', at })
      const res = await fetch(`${urls.get(hubId) as string}/federation/v1/stations?${qs.toString()}`, { headers: { authorization: `Bearer ${token(asPeer, hubId)}` } })
      const body = FedStations.parse(await res.json())
      return Object.fromEntries(body.stations.map((s) => [s.stationId, s.free]))
    },
    async close() {
      await Promise.all(Object.values(procs).map((p) => p.kill('SIGKILL')))
    },
  }
}
