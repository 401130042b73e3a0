import type { Command } from 'commander'
import { action } from '../cli-errors.js'
import type { DemoOptions } from './run.js'

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the whole federation on this machine: four hubs, stations on mock boards, vehicles, and a short story')
    .option('--keep-running', 'leave the federation up and print how to connect (Ctrl-C stops it)')
    .option('--dir <dir>', 'keep the generated configs, data and logs in this directory')
    .option('--base-port <port>', 'MQTT on base+11..14, HTTP on base+21..24; 0 picks free ports', '18800')
    .option('--json', 'print only the outcome of the story as JSON')
    .action(action(async (opts: DemoOptions) => (await import('./run.js')).runDemo(opts)))
}
