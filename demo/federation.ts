/** Start the whole demo federation in this process: four hubs and a station agent per station on mock boards. */
import type { Logger } from 'pino'
import { startHub, type Hub } from '../hub/app.js'
import { listenHint } from '../hub/broker/listen-hint.js'
import type { HubConfig } from '../hub/config.js'
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
        throw hubStartFailure(cfg, err)
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

const isListenError = (e: unknown): e is NodeJS.ErrnoException => e instanceof Error && (e as NodeJS.ErrnoException).syscall === 'listen'

/**
 * A hub of the demo that cannot start, as a demo user should read it: which
 * hub, which listener (its MQTT broker or its HTTP server) on which port, and
 * what to do about it in terms of the demo's flags, not of hub.json fields.
 * The broker reports its listen error as a ConfigError caused by it; the HTTP
 * server's listen error comes as it is.
 */
function hubStartFailure(cfg: HubConfig, err: unknown): unknown {
  const failed =
    err instanceof ConfigError && isListenError(err.cause) && 'listen' in cfg.mqtt
      ? { listener: 'MQTT broker', host: cfg.mqtt.listen.host, port: cfg.mqtt.listen.port, code: err.cause.code }
      : isListenError(err)
        ? { listener: 'HTTP server', host: cfg.http.host, port: cfg.http.port, code: err.code }
        : undefined
  if (failed) {
    const hint = listenHint(failed.code, 'the host', 'run the demo with --base-port 0 (free ports) or another --base-port')
    return new ConfigError(`demo: hub ${cfg.hubId}: its ${failed.listener} cannot listen on ${failed.host}:${failed.port}${failed.code ? ` (${failed.code})` : ''}${hint ? `; ${hint}` : ''}`)
  }
  if (err instanceof ConfigError) return new ConfigError(`demo: hub ${cfg.hubId} cannot start: ${err.message.replace(/^hub\.json: /gm, '')}`)
  return err
}
