/** Start real hubs for tests: ephemeral ports, a temp data dir, silent logs; and vehicles that talk to them. */
import { connectAsync, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { startHub, type Hub, type StartHubOptions } from '../../hub/app.js'
import type { HubConfig } from '../../hub/config.js'
import { createRpcClient, type RpcClient } from '../../protocol/index.js'
import { hubConfig } from './hub-config.js'

export { hubConfig, tempDir, type HubConfigInput } from './hub-config.js'

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
