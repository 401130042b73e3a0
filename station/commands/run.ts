/** `voltway station --config station.json`: run the agent until SIGTERM/SIGINT. */
import { pino } from 'pino'
import { logLevelOf } from '../../protocol/index.js'
import { StationAgent } from '../agent.js'
import { loadStationConfig } from '../config.js'
import { withHwErrors } from './hw-failure.js'

export async function runStation(configFile: string): Promise<void> {
  const config = loadStationConfig(configFile)
  const logger = pino({ level: logLevelOf('station', undefined, 'info') })
  const agent = await withHwErrors(() => StationAgent.create({ config, logger }))
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
