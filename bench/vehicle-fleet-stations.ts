/**
 * Station agents on mock boards for the fleet benchmark's `--real-hub` mode,
 * in a process of their own so neither the hub's nor the simulator's memory
 * includes them.
 *
 *   node --import tsx bench/vehicle-fleet-stations.ts stations.json
 *
 * `stations.json` is an array of station.json documents. Prints one line
 * `{"msg":"ready","stations":n}` once every agent is started; SIGTERM stops
 * them all and exits.
 */
import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { z } from 'zod'
import { StationAgent } from '../station/agent.js'
import { StationConfigSchema } from '../station/config.js'

const file = process.argv[2]
if (!file) {
  process.stderr.write('usage: vehicle-fleet-stations.ts stations.json\n')
  process.exit(2)
}
const configs = z.array(StationConfigSchema).parse(JSON.parse(readFileSync(file, 'utf8')))
const logger = pino({ level: process.env.VOLTWAY_LOG_LEVEL ?? 'warn' })
const agents: StationAgent[] = []
for (const config of configs) {
  const agent = await StationAgent.create({ config, logger: logger.child({ stationId: config.stationId }), reconnectPeriodMs: 500 })
  await agent.start()
  agents.push(agent)
}
process.stdout.write(`${JSON.stringify({ msg: 'ready', stations: agents.length })}\n`)
process.once('SIGTERM', () => {
  void Promise.allSettled(agents.map((a) => a.stop())).then(() => process.exit(0))
})
