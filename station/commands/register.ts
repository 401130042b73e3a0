import type { Command } from 'commander'
import { action, notImplemented } from '../../cli-errors.js'
import { loadStationConfig } from '../config.js'

export function registerStationCommands(program: Command): void {
  const station = program
    .command('station')
    .description('run the station agent on a charger board, or set one up')
    .option('-c, --config <file>', 'station.json')
    .action(
      action((opts: { config?: string }) => {
        if (!opts.config) throw new Error('voltway station needs --config station.json (or a subcommand: init, check, service)')
        loadStationConfig(opts.config)
        notImplemented('station')
      }),
    )
  station
    .command('init')
    .description('print a station.json for this board')
    .requiredOption('--id <stationId>', 'station id, as in the hub config')
    .requiredOption('--hub <url>', 'broker URL, e.g. mqtt://hub.example:1883')
    .action(action(() => notImplemented('station init')))
  station
    .command('check')
    .description('hardware self-test: board, relay, meter, serial ports, hub')
    .requiredOption('-c, --config <file>', 'station.json')
    .option('--toggle-relay', 'also close and open the relay once')
    .action(action(() => notImplemented('station check')))
  station
    .command('service')
    .description('print a systemd unit that runs the agent')
    .requiredOption('-c, --config <file>', 'station.json')
    .action(action(() => notImplemented('station service')))
}
