import type { Command } from 'commander'
import { action, notImplemented } from '../../cli-errors.js'

const ONE_SHOT = ['info', 'stations', 'nearest', 'reserve', 'cancel', 'reservations', 'routes', 'trip', 'trip-cancel', 'charge', 'history', 'fleet', 'load']

export function registerVehicleCommands(program: Command): void {
  const vehicle = program.command('vehicle').description('headless vehicle simulator: one-shot requests, fleets, load')
  for (const name of ONE_SHOT) {
    vehicle
      .command(name)
      .description(`vehicle ${name}`)
      .action(action(() => notImplemented(`vehicle ${name}`)))
  }
}
