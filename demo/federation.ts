/** Start the whole demo federation in this process: four hubs and a station agent per station on mock boards. */
import type { Logger } from 'pino'
import { startHub, type Hub } from '../hub/app.js'
import { ConfigError } from '../protocol/index.js'
import { StationAgent } from '../station/agent.js'
import type { DemoConfigs } from './configs.js'

export interface DemoFederation {
  hubs: Map<string, Hub>
  agents: Map<string, StationAgent>
  close(): Promise<void>
}

export async function startDemoFederation(cfgs: DemoConfigs, logger: Logger): Promise<DemoFederation> {
  const hubs = new Map<string, Hub>()
  const agents = new Map<string, StationAgent>()
  const close = async (): Promise<void> => {
    await Promise.allSettled([...agents.values()].map((a) => a.stop()))
    await Promise.allSettled([...hubs.values()].map((h) => h.close()))
  }
  try {
    for (const cfg of cfgs.hubs) {
      try {
        hubs.set(cfg.hubId, await startHub(cfg, { logger }))
      } catch (err) {
        if (err instanceof ConfigError) {
          throw new ConfigError(`demo: hub ${cfg.hubId} cannot start: ${err.message.replace(/^hub\.json: /, '').replace(/; .*$/s, '')}; another program may use the port: try --base-port 0 (free ports) or another base`)
        }
        throw err
      }
    }
    await Promise.all(
      cfgs.stations.map(async (cfg) => {
        const agent = await StationAgent.create({ config: cfg, logger: logger.child({ stationId: cfg.stationId }) })
        await agent.start()
        agents.set(cfg.stationId, agent)
      }),
    )
  } catch (err) {
    await close()
    throw err
  }
  return { hubs, agents, close }
}
