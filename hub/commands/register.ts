import type { Command } from 'commander'
import { action } from '../../cli-errors.js'

export function registerHubCommands(program: Command): void {
  const hub = program
    .command('hub')
    .description("run one company's hub: broker, reservations, charging sessions, federation")
    .requiredOption('-c, --config <file>', 'hub.json')
    .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug, trace (default: info, or $VOLTWAY_LOG_LEVEL)')
    .option('--replica <name>', 'run as this replica of the hub (several share the database and the broker mqtt.url; see docs/operator-guide.md "Scale out")')
    .option('--http-port <port>', 'listen for HTTP on this port instead of http.port (one per replica on one machine)')
    .action(action(async (opts: { config: string; logLevel?: string; replica?: string; httpPort?: string }) => (await import('./run.js')).runHubCommand(opts)))
  hub
    .command('acl')
    .description('write a Mosquitto password file and ACL file that enforce the Voltway permission table')
    // `hub` itself takes --config and consumes it wherever it appears, so read it from the merged options.
    .option('-c, --config <file>', 'hub.json')
    .requiredOption('-o, --out <dir>', 'directory to write passwd, acl and mosquitto.conf into')
    .option('--replicas <names>', 'comma-separated replica names: one hub login per replica (<hub user>.<name>) instead of the single hub login')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config, out, replicas } = cmd.optsWithGlobals<{ config: string; out: string; replicas?: string }>()
        const [{ runAclCommand }, { inConfigFile }] = await Promise.all([import('./acl.js'), import('../config.js')])
        try {
          process.stdout.write(runAclCommand({ config, out, ...(replicas !== undefined ? { replicas } : {}) }).text)
        } catch (err) {
          throw inConfigFile(err, config)
        }
      }),
    )
}
