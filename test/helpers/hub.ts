/** Start real hubs for tests: ephemeral ports, a temp data dir, silent logs; and vehicles that talk to them. */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { startHub, type Hub, type StartHubOptions } from '../../hub/app.js'
import { HubConfigSchema, type HubConfig } from '../../hub/config.js'
import { createRpcClient, type RpcClient } from '../../protocol/index.js'

export type HubConfigInput = Partial<Omit<HubConfig, 'rules' | 'federation'>> & {
  rules?: Partial<HubConfig['rules']>
  federation?: Partial<HubConfig['federation']>
}

export function tempDir(prefix = 'voltway-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** A valid hub config with two stations and two vehicles unless told otherwise. */
export function hubConfig(over: HubConfigInput = {}): HubConfig {
  const raw = {
    hubId: 'feira',
    name: 'Feira Charging',
    city: 'Feira de Santana',
    position: { lat: -12.2664, lon: -38.9663 },
    currency: 'BRL',
    dataDir: tempDir(),
    mqtt: { listen: { host: '127.0.0.1', port: 0 } },
    http: { host: '127.0.0.1', port: 0 },
    stations: [
      { stationId: 'FSA-1', position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73, password: 's3cret-1' },
      { stationId: 'FSA-2', position: { lat: -12.3, lon: -38.99 }, powerKw: 50, priceMinorPerKwh: 90, password: 's3cret-2' },
    ],
    vehicles: [
      { vehicleId: 'V1', password: 'v1-pass' },
      { vehicleId: 'V2', password: 'v2-pass' },
    ],
    ...over,
    federation: { peers: [], links: [], ...over.federation },
    rules: { windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30, ...over.rules },
  }
  return HubConfigSchema.parse(raw)
}

export async function startTestHub(config: HubConfig = hubConfig(), opts: StartHubOptions = {}): Promise<Hub> {
  return startHub(config, { logger: pino({ level: process.env.VOLTWAY_TEST_LOG ?? 'silent' }), ephemeralPorts: true, ...opts })
}

export interface TestVehicle {
  client: MqttClient
  rpc: RpcClient
  close(): Promise<void>
}

export async function connectVehicle(url: string, hubId: string, vehicleId: string, password: string, protocolVersion: 4 | 5 = 5): Promise<TestVehicle> {
  const client = await connectAsync(url, { clientId: vehicleId, username: vehicleId, password, protocolVersion, reconnectPeriod: 0, connectTimeout: 5000 })
  const rpc = createRpcClient({ client, hubId, vehicleId, timeoutMs: 10_000 })
  await rpc.start()
  return {
    client,
    rpc,
    async close() {
      await rpc.close()
      await client.endAsync(true)
    },
  }
}
