import type { Command } from 'commander'
import { action, notImplemented } from '../cli-errors.js'

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the whole federation on this machine: four hubs, stations on mock boards, vehicles')
    .option('--keep-running', 'leave the federation up and print how to connect')
    .option('--dir <dir>', 'keep the generated configs in this directory')
    .action(action(() => notImplemented('demo')))
}
