/**
 * Two companies for roaming tests: hub A ("feira", home of vehicle V1, which
 * only A knows) and hub B ("salvador", a station SSA-1 on a mock board at
 * its own price, no vehicles). A reaches B's federation API through a TCP
 * proxy the test can cut and restore; B runs in this process or as a
 * `voltway hub` process (to be killed -9 and restarted on its SQLite file).
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { Hub } from '../../hub/app.js'
import type { HubConfig } from '../../hub/config.js'
import { SqliteStore, type Store } from '../../hub/store/index.js'
import type { StationAgent } from '../../station/agent.js'
import { agentConfig, startAgentFor } from './charging-e2e.js'
import { connectVehicle, hubConfig, startTestHub, tempDir, type TestVehicle } from './hub.js'
import { spawnHub, type HubProcess } from './hub-process.js'
import { freePort, waitUntil } from './net.js'

export const B_PRICE = 80

/** A TCP proxy to `target` on a fixed port: `cut()` closes it and every connection through it, `restore()` listens again. */
export interface LinkProxy {
  url: string
  cut(): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

export async function linkProxy(targetPort: number): Promise<LinkProxy> {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | null = null
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer((inbound) => {
        const outbound = connect(targetPort, '127.0.0.1')
        for (const x of [inbound, outbound]) {
          sockets.add(x)
          x.on('close', () => sockets.delete(x))
          x.on('error', () => x.destroy())
        }
        inbound.pipe(outbound).pipe(inbound)
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
      server = s
    })
  const cut = async (): Promise<void> => {
    const s = server
    server = null
    for (const x of sockets) x.destroy()
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }
  await listen()
  return { url: `http://127.0.0.1:${port}`, cut, restore: listen, close: cut }
}

export interface RoamingPair {
  a: Hub
  bCfg: HubConfig
  /** B in this process (null when it runs as a process). */
  b: Hub | null
  bProc: HubProcess | null
  agent: StationAgent
  v1: TestVehicle
  link: LinkProxy
  /** Kill B with SIGKILL and start it again on the same data (process mode). */
  restartB(): Promise<void>
  /** B's database (process mode: opened beside the running hub, WAL). */
  withBStore<T>(fn: (s: Pick<Store, 'charging'>) => Promise<T>): Promise<T>
  close(): Promise<void>
}

export async function roamingPair(opts: { bAsProcess?: boolean } = {}): Promise<RoamingPair> {
  const [aHttp, bHttp, bMqtt] = [await freePort(), await freePort(), await freePort()]
  const link = await linkProxy(bHttp)
  const aCfg = hubConfig({
    http: { host: '127.0.0.1', port: aHttp },
    vehicles: [{ vehicleId: 'V1', password: 'v1-pass' }],
    federation: { peers: [{ hubId: 'salvador', url: link.url, token: 'feira-to-salvador', acceptToken: 'salvador-to-feira' }], links: [] },
  })
  const bCfg = hubConfig({
    hubId: 'salvador',
    name: 'Salvador Charging',
    city: 'Salvador',
    position: { lat: -12.97, lon: -38.5 },
    dataDir: tempDir(),
    mqtt: { listen: { host: '127.0.0.1', port: bMqtt }, allowAnonymous: false },
    http: { host: '127.0.0.1', port: bHttp },
    stations: [{ stationId: 'SSA-1', position: { lat: -12.97, lon: -38.5 }, powerKw: 22, priceMinorPerKwh: B_PRICE, password: 'ssa-1-pass' }],
    vehicles: [],
    federation: { peers: [{ hubId: 'feira', url: `http://127.0.0.1:${aHttp}`, token: 'salvador-to-feira', acceptToken: 'feira-to-salvador' }], links: [] },
  })
  const a = await startTestHub(aCfg, { ephemeralPorts: false, commandTimeoutMs: 3000, federationTuning: { releaseMinDelayMs: 50, releaseMaxDelayMs: 200, historyTimeoutMs: 1000 } })
  let b: Hub | null = null
  let bProc: HubProcess | null = null
  const dir = tempDir('voltway-roaming-')
  const startB = async (): Promise<Pick<Hub, 'hubId' | 'mqttUrl'>> => {
    if (!opts.bAsProcess) return (b = await startTestHub(bCfg, { ephemeralPorts: false, commandTimeoutMs: 3000 }))
    bProc = await spawnHub(bCfg, dir, 30_000)
    return { hubId: 'salvador', mqttUrl: bProc.mqttUrl }
  }
  const bAddr = await startB()
  const station = bCfg.stations[0] as HubConfig['stations'][number]
  const agent = await startAgentFor(agentConfig(bAddr, station, { dataDir: join(dir, 'agent') }))
  // B's station as A sees it over the federation: online once B has heard the agent.
  const stationOnlineAtB = (): Promise<unknown> =>
    waitUntil(async () => {
      const near = await a.federation.client.stations('salvador', { ...station.position, rangeKm: 5 }).catch(() => null)
      return near?.stations.find((s) => s.stationId === station.stationId)?.online === true
    }, 20_000, "B's station online")
  await stationOnlineAtB()
  const v1 = await connectVehicle(a.mqttUrl, 'feira', 'V1', 'v1-pass')
  return {
    a,
    bCfg,
    get b() {
      return b
    },
    get bProc() {
      return bProc
    },
    agent,
    v1,
    link,
    async restartB() {
      await bProc?.kill('SIGKILL')
      await startB()
      await stationOnlineAtB()
    },
    async withBStore(fn) {
      if (b) return fn(b.context.store)
      const store = new SqliteStore({ dataDir: bCfg.dataDir })
      try {
        return await fn(store)
      } finally {
        await store.close()
      }
    },
    async close() {
      await v1.close()
      await agent.stop()
      await a.close()
      await b?.close()
      await bProc?.kill('SIGTERM')
      await link.close()
    },
  }
}
