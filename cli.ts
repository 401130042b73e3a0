#!/usr/bin/env node
/**
 * `voltway`: one CLI for every part (CONFIG.md). Each area registers its own
 * subcommands; this file only wires them together and turns the errors a user
 * can cause into a one-line message and an exit code, never a stack trace.
 */
import { Command } from 'commander'
import { registerHubCommands } from './hub/commands/register.js'
import { registerStationCommands } from './station/commands/register.js'
import { registerVehicleCommands } from './vehicle-sim/commands/register.js'
import { registerDemoCommand } from './demo/register.js'
import { reportFatal } from './cli-errors.js'

const program = new Command()
program
  .name('voltway')
  .description('Voltway: federated EV charging. Hubs, station agents, and a vehicle simulator.')
  .version('0.1.0')
  .showHelpAfterError()

registerHubCommands(program)
registerStationCommands(program)
registerVehicleCommands(program)
registerDemoCommand(program)

program.parseAsync(process.argv).catch(reportFatal)
