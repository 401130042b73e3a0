/**
 * Hub replicas as an operator runs them (docs/operator-guide.md "Scale out"):
 * one PostgreSQL database, one Mosquitto started from the files
 * `voltway hub acl --replicas` writes, and N `voltway hub --replica NAME
 * --http-port P` processes reading one hub.json. A replica can be killed
 * (kill -9) and started again under its name.
 *
 * `replicaFederation` puts several such hubs (companies) side by side, each
 * with its own database, broker and replicas, peers of each other: a peer's
 * `url` is the first replica of that hub.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HubConfigSchema, type HubConfig } from '../../hub/config.js'
import { runAclCommand } from '../../hub/commands/acl.js'
import { specConfig, token, type HubSpec } from './federation-hubs.js'
import { tempDir } from './hub-config.js'
import { spawnHub, type HubProcess } from './hub-process.js'
import { runMosquittoConf, type MosquittoProcess } from './mosquitto.js'
import { freePort } from './net.js'
import { tempPostgres, type TempPostgres } from './store-postgres.js'

export const HUB_MQTT_PASSWORD = 'hub-replicas-secret'

export interface ReplicaCluster {
  hubId: string
  config: HubConfig
  /** The hub.json every replica reads. */
  configFile: string
  db: TempPostgres
  broker: MosquittoProcess
  /** Live replica processes by name (a killed one is removed until started again). */
  replicas: Map<string, HubProcess>
  /** Each replica's HTTP URL, fixed across restarts. */
  httpUrl(name: string): string
  /** Start (or restart) replica `name`; resolves once it prints its ready line. */
  start(name: string): Promise<HubProcess>
  /** Vehicle requests of `op` each live replica answered, from its /metrics (the `replica` label). */
  answered(op: string): Promise<Record<string, number>>
  /** Kill replica `name` with `signal` (default SIGKILL) and wait until it is gone. Resolves its output. */
  kill(name: string, signal?: NodeJS.Signals): Promise<string>
  close(): Promise<void>
}

export interface ReplicaClusterOptions {
  /** The hub's config; its `mqtt`, `store` and `http.port` are replaced by the cluster's. */
  config: HubConfig
  /** Replica names, e.g. ['r1', 'r2']. */
  replicas: readonly string[]
  /** HTTP port per replica (default: free ports), when peers must know them before start. */
  httpPorts?: Record<string, number>
  /** Start the replicas (default true). */
  startReplicas?: boolean
}

/** A database, a Mosquitto from `voltway hub acl --replicas` files, and the replicas, started. */
export async function startReplicaCluster(opts: ReplicaClusterOptions): Promise<ReplicaCluster> {
  const dir = tempDir(`voltway-replicas-${opts.config.hubId}-`)
  const db = await tempPostgres()
  const cleanups: Array<() => Promise<void>> = [() => db.dispose()]
  try {
    const mqttPort = await freePort()
    const config = HubConfigSchema.parse({
      ...opts.config,
      mqtt: { url: `mqtt://127.0.0.1:${mqttPort}`, password: HUB_MQTT_PASSWORD },
      // Several clusters may run at once (tap runs files in parallel): keep each replica's pool small so all stay under max_connections.
      store: { type: 'postgres', url: db.url, poolSize: 4 },
      dataDir: join(dir, 'data'),
    })
    const configFile = join(dir, 'hub.json')
    writeFileSync(configFile, JSON.stringify(config, null, 2))
    const brokerDir = join(dir, 'mosquitto')
    mkdirSync(brokerDir)
    runAclCommand({ config: configFile, out: brokerDir, replicas: opts.replicas.join(',') })
    const confFile = join(brokerDir, 'mosquitto.conf')
    // Tests watch the broker's log; as root, Mosquitto would switch to user `mosquitto`, which cannot read the 0600 files.
    appendFileSync(confFile, ['log_dest stderr', 'log_type error', 'log_type warning', 'persistence false', ...(process.getuid?.() === 0 ? ['user root'] : [])].join('\n') + '\n')
    const broker = await runMosquittoConf(confFile, mqttPort, brokerDir)
    cleanups.push(() => broker.close())

    const ports = new Map<string, number>()
    for (const name of opts.replicas) ports.set(name, opts.httpPorts?.[name] ?? (await freePort()))
    const replicas = new Map<string, HubProcess>()
    const httpUrl = (name: string): string => `http://127.0.0.1:${ports.get(name) ?? 0}`
    const start = async (name: string): Promise<HubProcess> => {
      const p = await spawnHub(config, dir, 60_000, { configFile, args: ['--replica', name, '--http-port', String(ports.get(name))] })
      replicas.set(name, p)
      return p
    }
    if (opts.startReplicas !== false) await Promise.all(opts.replicas.map(start))
    return {
      hubId: config.hubId,
      config,
      configFile,
      db,
      broker,
      replicas,
      httpUrl,
      start,
      async answered(op) {
        const out: Record<string, number> = {}
        for (const name of replicas.keys()) {
          const text = await (await fetch(`${httpUrl(name)}/metrics`)).text()
          out[name] = text
            .split('\n')
            .filter((l) => l.startsWith('voltway_requests_total{') && l.includes(`op="${op}"`) && l.includes(`replica="${name}"`))
            .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)
        }
        return out
      },
      async kill(name, signal = 'SIGKILL') {
        const p = replicas.get(name)
        if (!p) throw new Error(`replica ${name} is not running`)
        replicas.delete(name)
        await p.kill(signal)
        return p.output()
      },
      async close() {
        await Promise.all([...replicas.values()].map((p) => p.kill('SIGKILL')))
        replicas.clear()
        for (const c of cleanups.splice(0).reverse()) await c()
      },
    }
  } catch (err) {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
    throw err
  }
}

export interface ReplicaFederation {
  clusters: Record<string, ReplicaCluster>
  cluster(hubId: string): ReplicaCluster
  close(): Promise<void>
}

/** Vehicles every hub of a federation knows. */
export function fleet(n: number): Array<{ vehicleId: string; password: string }> {
  return Array.from({ length: n }, (_, i) => ({ vehicleId: `V${i + 1}`, password: `v${i + 1}-pass` }))
}

/** Several hubs, each as `replicas` processes on its own database and broker, peers of each other. */
export async function replicaFederation(opts: {
  specs: HubSpec[]
  links: Array<{ from: string; to: string; distanceKm: number }>
  replicas: readonly string[]
  vehicles: Array<{ vehicleId: string; password: string }>
  rules?: Partial<HubConfig['rules']>
  replicaTimes?: Partial<HubConfig['replicas']>
}): Promise<ReplicaFederation> {
  const ports: Record<string, Record<string, number>> = {}
  for (const s of opts.specs) {
    ports[s.hubId] = {}
    for (const r of opts.replicas) (ports[s.hubId] as Record<string, number>)[r] = await freePort()
  }
  const first = opts.replicas[0] as string
  const clusters: Record<string, ReplicaCluster> = {}
  const close = async (): Promise<void> => {
    await Promise.all(Object.values(clusters).map((c) => c.close()))
  }
  try {
    // Databases and brokers one hub at a time (the acl files are written in-process), replicas all at once.
    for (const s of opts.specs) {
      const peers = opts.specs
        .filter((p) => p.hubId !== s.hubId)
        .map((p) => ({ hubId: p.hubId, url: `http://127.0.0.1:${ports[p.hubId]?.[first] ?? 0}`, token: token(s.hubId, p.hubId), acceptToken: token(p.hubId, s.hubId) }))
      const config = specConfig(s, {
        vehicles: opts.vehicles,
        peers,
        links: opts.links,
        ...(opts.rules ? { rules: opts.rules } : {}),
        ...(opts.replicaTimes ? { replicas: opts.replicaTimes } : {}),
      })
      clusters[s.hubId] = await startReplicaCluster({ config, replicas: opts.replicas, httpPorts: ports[s.hubId] ?? {}, startReplicas: false })
    }
    await Promise.all(Object.values(clusters).flatMap((c) => opts.replicas.map((r) => c.start(r))))
  } catch (err) {
    await close()
    throw err
  }
  return {
    clusters,
    cluster(hubId) {
      const c = clusters[hubId]
      if (!c) throw new Error(`no hub ${hubId}`)
      return c
    },
    close,
  }
}
