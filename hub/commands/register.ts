import type { Command } from 'commander'
import { action } from '../../cli-errors.js'
import type { AccountCommand } from './accounts.js'

export function registerHubCommands(program: Command): void {
  const hub = program
    .command('hub')
    .description("run one company's hub: broker, reservations, charging sessions, federation")
    .requiredOption('-c, --config <file>', 'hub.json')
    .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug, trace (default: info, or $VOLTWAY_LOG_LEVEL)')
    .action(action(async (opts: { config: string; logLevel?: string }) => (await import('./run.js')).runHubCommand(opts)))
  hub
    .command('acl')
    .description('write a Mosquitto password file and ACL file that enforce the Voltway permission table')
    // `hub` itself takes --config and consumes it wherever it appears, so read it from the merged options.
    .option('-c, --config <file>', 'hub.json')
    .requiredOption('-o, --out <dir>', 'directory to write passwd, acl and mosquitto.conf into')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config, out } = cmd.optsWithGlobals<{ config: string; out: string }>()
        const [{ runAclCommand, storeOnlyAccountsNote }, { inConfigFile }] = await Promise.all([import('./acl.js'), import('../config.js')])
        try {
          process.stdout.write(runAclCommand({ config, out }).text)
          process.stdout.write(await storeOnlyAccountsNote(config))
        } catch (err) {
          throw inConfigFile(err, config)
        }
      }),
    )
  registerAccountCommands(hub, 'vehicle')
  registerAccountCommands(hub, 'station')
}

/** `voltway hub vehicle|station add|list|remove|passwd` (hub/commands/accounts.ts). */
function registerAccountCommands(hub: Command, kind: 'vehicle' | 'station'): void {
  const group = hub.command(kind).description(`manage the hub's ${kind}s while it runs (or not): they live in its database`)
  const run = (actionName: 'add' | 'list' | 'remove' | 'passwd') =>
    action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Omit<AccountCommand, 'kind' | 'action'>>()
      const [{ runAccountCommand }, { inConfigFile }] = await Promise.all([import('./accounts.js'), import('../config.js')])
      try {
        process.stdout.write(await runAccountCommand({ ...opts, kind, action: actionName }))
      } catch (err) {
        throw inConfigFile(err, opts.config)
      }
    })
  const add = group.command('add').option('-c, --config <file>', 'hub.json').requiredOption('--id <id>', `the ${kind} id (its MQTT username)`)
  if (kind === 'vehicle') add.description('add a vehicle; prints a generated password unless --password-stdin').option('--password-stdin', 'read the password from stdin')
  else
    add
      .description('add a station; prints a one-time enrollment code for `voltway station init --enroll`')
      .requiredOption('--lat <deg>', 'latitude')
      .requiredOption('--lon <deg>', 'longitude')
      .requiredOption('--power-kw <kW>', 'rated power')
      .requiredOption('--price-minor-per-kwh <n>', 'price in minor currency units per kWh')
  add.action(run('add'))
  group.command('list').description(`list the ${kind}s`).option('-c, --config <file>', 'hub.json').action(run('list'))
  group.command('remove').description(`remove a ${kind}; a running hub disconnects it`).option('-c, --config <file>', 'hub.json').requiredOption('--id <id>', `the ${kind} id`).action(run('remove'))
  const passwd = group
    .command('passwd')
    .description(`set a new password (generated and printed unless --password-stdin); a running hub disconnects the ${kind}`)
    .option('-c, --config <file>', 'hub.json')
    .requiredOption('--id <id>', `the ${kind} id`)
    .option('--password-stdin', 'read the password from stdin')
  if (kind === 'station') passwd.option('--enroll', 'print a new one-time enrollment code instead of a password')
  passwd.action(run('passwd'))
}
