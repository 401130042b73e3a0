/** `voltway hub --config hub.json`: run a hub until SIGTERM/SIGINT, then shut down gracefully. */
import { pino } from 'pino'
import { ConfigError } from '../../protocol/index.js'
import { startHub } from '../app.js'
import { inConfigFile, loadHubConfig, type HubConfig } from '../config.js'

/** Errors a port taken by another program (or a privileged one) gives; restarting will not help, so exit 2. */
const LISTEN_ERRORS = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'])

/** A start-up failure as the operator should read it: the HTTP port (the MQTT one is mapped by the broker) and the real file. */
export function startFailure(err: unknown, file: string, config: HubConfig): unknown {
  const e = err as NodeJS.ErrnoException
  if (e instanceof Error && e.syscall === 'listen' && e.code !== undefined && LISTEN_ERRORS.has(e.code)) {
    return new ConfigError(
      `${file}: http: cannot listen on ${config.http.host}:${config.http.port} (${e.code}); another program may use the port: stop it or change http.port`,
    )
  }
  return inConfigFile(err, file)
}

export async function runHubCommand(opts: { config: string; logLevel?: string }): Promise<void> {
  const config = loadHubConfig(opts.config)
  const level = opts.logLevel ?? process.env.VOLTWAY_LOG_LEVEL ?? 'info'
  if (!Object.hasOwn(pino.levels.values, level) && level !== 'silent') {
    throw new ConfigError(`hub: --log-level: expected one of ${[...Object.keys(pino.levels.values), 'silent'].join(', ')}, got "${level}"`)
  }
  const logger = pino({ level })
  const hub = await startHub(config, { logger }).catch((err: unknown) => {
    throw startFailure(err, opts.config, config)
  })
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
