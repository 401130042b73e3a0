#!/usr/bin/env node
/**
 * `voltway`: one CLI for every part (docs/configuration.md). Each area registers its own
 * subcommands; this file only wires them together and turns the errors a user
 * can cause into a one-line message and an exit code, never a stack trace.
 */
import { Command } from 'commander'
import { markRequired } from './cli-help.js'
import { EXIT_USAGE, endQuietlyOnBrokenPipe, reportFatal } from './cli-errors.js'

// `voltway ... | head`: a closed pipe ends the process quietly, never a stack trace.
endQuietlyOnBrokenPipe()

type Register = (program: Command) => void

// Each area is loaded only when its command runs: the station agent on a
// Pi-class board should not pay for the hub's and the simulator's modules.
const AREAS: Record<string, () => Promise<Register>> = {
  hub: async () => (await import('./hub/commands/register.js')).registerHubCommands,
  station: async () => (await import('./station/commands/register.js')).registerStationCommands,
  vehicle: async () => (await import('./vehicle-sim/commands/register.js')).registerVehicleCommands,
  demo: async () => (await import('./demo/register.js')).registerDemoCommand,
}

const program = new Command()
program
  .name('voltway')
  .description('Voltway: federated EV charging. Hubs, station agents, and a vehicle simulator.')
  .version('0.1.0')
  .showHelpAfterError()
  // Inherited by every subcommand registered below: commander's own errors (a missing
  // required option, an unknown one) are command-line mistakes, exit 2; help and --version exit 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE))
  // One way to read --help everywhere: required options say so, defaults read `(default: ...)`.
  .configureHelp({ optionDescription: markRequired })

const command = process.argv.slice(2).find((a) => !a.startsWith('-'))
const wanted = command !== undefined && Object.hasOwn(AREAS, command) ? [command] : Object.keys(AREAS)
try {
  for (const area of wanted) (await (AREAS[area] as () => Promise<Register>)())(program)
  await program.parseAsync(process.argv)
} catch (err) {
  reportFatal(err)
}
