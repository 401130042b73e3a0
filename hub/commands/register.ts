import type { Command } from 'commander'
import { action, notImplemented } from '../../cli-errors.js'
import { loadHubConfig } from '../config.js'
import { runAclCommand } from './acl.js'

export function registerHubCommands(program: Command): void {
  const hub = program
    .command('hub')
    .description("run one company's hub: broker, reservations, charging sessions, federation")
    .requiredOption('-c, --config <file>', 'hub.json')
    .action(
      action((opts: { config: string }) => {
        loadHubConfig(opts.config)
        notImplemented('hub')
      }),
    )
  hub
    .command('acl')
    .description('write a Mosquitto password file and ACL file that enforce the Voltway permission table')
    // `hub` itself takes --config and consumes it wherever it appears, so read it from the merged options.
    .option('-c, --config <file>', 'hub.json')
    .requiredOption('-o, --out <dir>', 'directory to write passwd, acl and mosquitto.conf into')
    .action(
      action((_opts: unknown, cmd: Command) => {
        const { config, out } = cmd.optsWithGlobals<{ config: string; out: string }>()
        process.stdout.write(runAclCommand({ config, out }).text)
      }),
    )
}
