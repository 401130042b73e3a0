import type { Command } from 'commander'
import { runFleet } from '../fleet/engine.js'
import { createProgress } from '../fleet/progress.js'
import { loadScenario } from '../fleet/scenario.js'
import { fleetConnectHints, renderFleetSummary } from '../output-fleet.js'
import { errorReport, printError, printJson } from '../output.js'
import { numberFlag, processCli, type CliContext } from './common.js'
import { ConfigError } from '../../protocol/index.js'

interface FleetFlags {
  scenario: string
  seed?: number
  json?: boolean
  progress: boolean
  maxVehicles?: number
}

export function registerFleet(parent: Command, cli: CliContext = processCli): void {
  parent
    .command('fleet')
    .description('run a fleet scenario: many vehicles drive, drain, book and charge; prints a summary')
    .requiredOption('--scenario <file>', 'scenario JSON file')
    .option('--seed <n>', 'random seed (repeatable runs)', numberFlag({ integer: true, min: 0, max: 2 ** 32 - 1 }))
    .option('--max-vehicles <n>', 'simulate at most this many of the scenario vehicles', numberFlag({ integer: true, min: 1 }))
    .option('--json', 'print the summary as one JSON document on stdout')
    .option('--no-progress', 'no progress display on stderr')
    .action(async (flags: FleetFlags) => {
      const io = cli.io
      const ac = new AbortController()
      const onSigint = (): void => {
        if (ac.signal.aborted) process.exit(130)
        process.stderr.write('\nstopping: ending sessions and cancelling unused bookings (Ctrl-C again to quit at once)\n')
        ac.abort()
      }
      process.on('SIGINT', onSigint)
      try {
        const scenario = loadScenario(flags.scenario)
        if (flags.maxVehicles !== undefined) scenario.maxVehicles = flags.maxVehicles
        const display = flags.progress ? createProgress(process.stderr, { tty: io.errIsTTY }) : null
        const opts: Parameters<typeof runFleet>[1] = { signal: ac.signal }
        if (flags.seed !== undefined) opts.seed = flags.seed
        if (display) opts.onProgress = (s) => display.update(s)
        const { summary } = await runFleet(scenario, opts)
        display?.stop()
        if (flags.json) printJson(io, summary)
        else io.out(`${renderFleetSummary(summary)}\n`)
        const urls = [...new Set(scenario.hubs.filter((h) => h.vehicles !== undefined).map((h) => h.url))]
        for (const line of fleetConnectHints(summary, flags.scenario, urls)) io.err(`${line}\n`)
        cli.setExitCode(summary.vehicles.connected === 0 && summary.vehicles.total > 0 ? 1 : 0)
      } catch (err) {
        printError(io, errorReport(err))
        cli.setExitCode(err instanceof ConfigError ? 2 : 1)
      } finally {
        process.removeListener('SIGINT', onSigint)
      }
    })
}
