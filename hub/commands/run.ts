/** `voltway hub --config hub.json`: run a hub until SIGTERM/SIGINT, then shut down gracefully. */
import { createServer } from 'node:net'
import { pino } from 'pino'
import { ConfigError, ID_PATTERN, logLevelOf } from '../../protocol/index.js'
import { keepRunningWithoutOutput, serviceLogDestination } from '../../cli-errors.js'
import { startHub } from '../app.js'
import { listenHint } from '../broker/listen-hint.js'
import { inConfigFile, loadHubConfig, type HubConfig } from '../config.js'


/**
 * A start-up failure as the operator should read it: the HTTP port (the MQTT one is mapped by the broker) and the real file.
 * `portFlag`: the port came from `--http-port`, so the hint names the flag, not hub.json's http.port.
 */
export function startFailure(err: unknown, file: string, config: HubConfig, portFlag = false): unknown {
  const e = err as NodeJS.ErrnoException
  // A port taken by another program (or a privileged one), or a host not of this machine: restarting will not help, so exit 2.
  const hint = e instanceof Error && e.syscall === 'listen' ? listenHint(e.code, 'http.host', portFlag ? 'give another --http-port (each replica on one machine needs its own)' : 'change http.port') : undefined
  if (hint !== undefined) return new ConfigError(`${file}: http: cannot listen on ${config.http.host}:${config.http.port} (${e.code}); ${hint}`)
  return inConfigFile(err, file)
}

/**
 * Try the HTTP address before anything starts. A hub learns that its port is taken only at the end of its
 * start, when it has already opened its store, rewritten the Mosquitto files of an external broker and
 * logged in to it as the hub, taking the connection over from a hub that runs with the same id (a copy of
 * a running hub's config). Rejects with the listen error (EADDRINUSE, EACCES, EADDRNOTAVAIL) that
 * startFailure words; any other failure is left to the start itself to report.
 */
async function probeHttpAddress(host: string, port: number): Promise<void> {
  const server = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port, exclusive: true }, () => resolve())
    })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).syscall === 'listen') throw err
    return
  }
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

/** `--replica NAME`: an id (docs/protocol.md identifiers), since it becomes part of an MQTT username and a metrics label. */
export function parseReplicaName(name: string): string {
  if (!ID_PATTERN.test(name)) throw new ConfigError(`hub: --replica: "${name}" is not a replica name; use 1 to 64 letters, digits, '_' or '-' (e.g. r1)`)
  return name
}

/** `--http-port N`: a TCP port number (0: any free one). */
export function parseHttpPort(port: string): number {
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN
  if (!(n >= 0 && n <= 65535)) throw new ConfigError(`hub: --http-port: expected a port number from 0 to 65535, got "${port}"`)
  return n
}

export async function runHubCommand(opts: { config: string; logLevel?: string; replica?: string; httpPort?: string }): Promise<void> {
  const replica = opts.replica === undefined ? undefined : parseReplicaName(opts.replica)
  const loaded = loadHubConfig(opts.config)
  const config = opts.httpPort === undefined ? loaded : { ...loaded, http: { ...loaded.http, port: parseHttpPort(opts.httpPort) } }
  const logger = pino({ level: logLevelOf('hub', opts.logLevel, 'info') }, serviceLogDestination())
  keepRunningWithoutOutput('hub')
  const hub = await probeHttpAddress(config.http.host, config.http.port).then(() => startHub(config, { logger, ...(replica !== undefined ? { replica } : {}) })).catch((err: unknown) => {
    throw startFailure(err, opts.config, config, opts.httpPort !== undefined)
  })
  // Machine-readable readiness line for scripts and tests (the log has the same facts).
  process.stdout.write(`${JSON.stringify({ msg: 'ready', hubId: hub.hubId, replica: hub.replica, mqtt: hub.mqttUrl, http: hub.httpUrl })}\n`)
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
