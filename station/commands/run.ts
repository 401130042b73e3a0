/** `voltway station --config station.json`: run the agent until SIGTERM/SIGINT. */
import { pino } from 'pino'
import { join } from 'node:path'
import { ConfigError, logLevelOf } from '../../protocol/index.js'
import { StationAgent } from '../agent.js'
import { OUTBOX_FILE } from '../outbox.js'
import { loadStationConfig, makeDataDir } from '../config.js'
import { keepRunningWithoutOutput, serviceLogDestination } from '../../cli-errors.js'
import { withHwErrors } from './hw-failure.js'

export async function runStation(configFile: string): Promise<void> {
  const config = loadStationConfig(configFile)
  // Made here, so a dataDir that cannot exist stops the agent with the file and field named (exit 2).
  makeDataDir(config, configFile)
  const logger = pino({ level: logLevelOf('station', undefined, 'info') }, serviceLogDestination())
  keepRunningWithoutOutput('station agent')
  const agent = await withHwErrors(() => StationAgent.create({ config, logger })).catch((err: unknown) => {
    // The outbox (dataDir/station.sqlite) that cannot be opened: a file of another kind or program in its place, a full disk.
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('SQLITE_')) {
      throw new ConfigError(`${configFile}: dataDir "${config.dataDir}": cannot open ${join(config.dataDir, OUTBOX_FILE)} (${(err as Error).message}); check that it is the agent's own SQLite file (move it away to start a new outbox, losing unsent events) and that the disk has free space`)
    }
    throw err
  })
  await agent.start()
  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping: opening the relay and going offline')
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'stopping failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
