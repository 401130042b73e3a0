/** A real hub with station agents on mock boards, for end-to-end charging tests. */
import { join } from 'node:path'
import { pino } from 'pino'
import type { Hub } from '../../hub/app.js'
import type { HubConfig } from '../../hub/config.js'
import { StationAgent } from '../../station/agent.js'
import { StationConfigSchema, type StationConfig } from '../../station/config.js'
import { tempDir } from './hub.js'

export function agentConfig(hub: Pick<Hub, 'hubId' | 'mqttUrl'>, station: HubConfig['stations'][number], over: { powerKw?: number; dataDir?: string; maxChargeMinutes?: number } = {}): StationConfig {
  return StationConfigSchema.parse({
    stationId: station.stationId,
    hubId: hub.hubId,
    mqtt: { url: hub.mqttUrl, password: station.password },
    dataDir: over.dataDir ?? join(tempDir('voltway-agent-'), station.stationId),
    hardware: {
      board: { type: 'mock' },
      relay: { pin: 7, type: 'NO' },
      // A fast car so energy shows within milliseconds of real time.
      meter: { type: 'mock', powerKw: over.powerKw ?? 1800 },
    },
    telemetryIntervalMs: 100,
    offline: { maxChargeMinutes: over.maxChargeMinutes ?? 30 },
  })
}

export async function startAgentFor(config: StationConfig): Promise<StationAgent> {
  const agent = await StationAgent.create({ config, logger: pino({ level: process.env.VOLTWAY_TEST_LOG ?? 'silent' }), reconnectPeriodMs: 100 })
  await agent.start()
  return agent
}
