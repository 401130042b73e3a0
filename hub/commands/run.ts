/** `voltway hub --config hub.json`: run a hub until SIGTERM/SIGINT, then shut down gracefully. */
import { pino } from 'pino'
import { ConfigError } from '../../protocol/index.js'
import { startHub } from '../app.js'
import { loadHubConfig } from '../config.js'

export async function runHubCommand(opts: { config: string; logLevel?: string }): Promise<void> {
  const config = loadHubConfig(opts.config)
  const level = opts.logLevel ?? process.env.VOLTWAY_LOG_LEVEL ?? 'info'
  if (!Object.hasOwn(pino.levels.values, level) && level !== 'silent') {
    throw new ConfigError(`hub: --log-level: expected one of ${[...Object.keys(pino.levels.values), 'silent'].join(', ')}, got "${level}"`)
  }
  const logger = pino({ level })
  const hub = await startHub(config, { logger })
  // Machine-readable readiness line for scripts and tests (the log has the same facts).
  process.stdout.write(`${JSON.stringify({ msg: 'ready', hubId: hub.hubId, mqtt: hub.mqttUrl, http: hub.httpUrl })}\n`)
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    hub.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}
