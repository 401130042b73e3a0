import type { Command } from 'commander'
import { action } from '../../cli-errors.js'
import { addConfigOption, requiredOption } from '../../cli-help.js'

export function registerHubCommands(program: Command): void {
  // `hub` is both a command and the parent of `acl`: its --config is checked by each
  // action (not by commander, which would demand the parent's for `hub acl`).
  const hub = addConfigOption(program.command('hub'), 'hub.json')
    .description("run one company's hub: broker, reservations, charging sessions, federation")
    .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug, trace (default: info; env VOLTWAY_LOG_LEVEL)')
    .option('--replica <name>', 'run as this replica of the hub (several share the database and the broker mqtt.url; see docs/operator-guide.md "Scale out")')
    .option('--http-port <port>', 'listen for HTTP on this port instead of http.port (one per replica on one machine)')
    .action(
      action(async (opts: { logLevel?: string; replica?: string; httpPort?: string }, cmd: Command) =>
        (await import('./run.js')).runHubCommand({ ...opts, config: requiredOption(cmd, 'config') }),
      ),
    )
  addConfigOption(hub.command('acl'), 'hub.json')
    .description('write a Mosquitto password file and ACL file that enforce the Voltway permission table')
    .requiredOption('-o, --out <dir>', 'directory to write passwd, acl and mosquitto.conf into')
    .option('--replicas <names>', 'comma-separated replica names: one hub login per replica (<hub user>.<name>) instead of the single hub login')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        // `hub` takes --config too and consumes it wherever it appears: read the merged options.
        const config = requiredOption(cmd, 'config')
        const { out, replicas } = cmd.optsWithGlobals<{ out: string; replicas?: string }>()
        const [{ runAclCommand }, { inConfigFile }] = await Promise.all([import('./acl.js'), import('../config.js')])
        try {
          process.stdout.write(runAclCommand({ config, out, ...(replicas !== undefined ? { replicas } : {}) }).text)
        } catch (err) {
          throw inConfigFile(err, config)
        }
      }),
    )
}
