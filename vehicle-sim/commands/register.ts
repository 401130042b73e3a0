/**
 * `voltway vehicle ...`: one file per command. Command-line mistakes (unknown
 * options, bad numbers, missing arguments) exit 2; failed operations exit 1.
 */
import type { Command } from 'commander'
import { processCli, type CliContext } from './common.js'
import { registerCancel } from './cancel.js'
import { registerCharge } from './charge.js'
import { registerFleet } from './fleet.js'
import { registerHistory } from './history.js'
import { registerInfo } from './info.js'
import { registerLoad } from './load.js'
import { registerNearest } from './nearest.js'
import { registerReservations } from './reservations.js'
import { registerReserve } from './reserve.js'
import { registerRoutes } from './routes.js'
import { registerStations } from './stations.js'
import { registerTripCancel } from './trip-cancel.js'
import { registerTrip } from './trip.js'
import { registerTrips } from './trips.js'

const EXIT_USAGE = 2

export interface RegisterOptions {
  cli?: CliContext
  /** How commander's own errors (unknown option, bad value, help) end; the process by default. */
  exit?: (code: number) => never
}

export function registerVehicleCommands(program: Command, opts: RegisterOptions = {}): void {
  const cli = opts.cli ?? processCli
  const exit = opts.exit ?? ((code: number) => process.exit(code))
  const vehicle = program
    .command('vehicle')
    .description('headless vehicle simulator: one-shot requests, fleets, load')
    // Subcommands inherit this: commander's parse errors become exit 2, help and --version stay 0.
    .showHelpAfterError('(add --help for the options)')
    .exitOverride((err) => exit(err.exitCode === 0 ? 0 : EXIT_USAGE))
    .configureOutput({ writeOut: (t) => cli.io.out(t), writeErr: (t) => cli.io.err(t) })
  for (const register of [
    registerInfo,
    registerStations,
    registerNearest,
    registerReserve,
    registerCancel,
    registerReservations,
    registerRoutes,
    registerTrip,
    registerTrips,
    registerTripCancel,
    registerCharge,
    registerHistory,
    registerFleet,
    registerLoad,
  ]) {
    register(vehicle, cli)
  }
}
