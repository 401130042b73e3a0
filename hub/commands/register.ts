import type { Command } from 'commander'
import { action } from '../../cli-errors.js'
import { addConfigOption, requiredOption } from '../../cli-help.js'
import type { AccountCommand } from './accounts.js'

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
    .option('--replicas <names>', 'comma-separated replica names: one hub login per replica (<hub user>.<name>, and <hub user>.<name>/requests for its vehicle requests) instead of the hub\'s own')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        // `hub` takes --config too and consumes it wherever it appears: read the merged options.
        const config = requiredOption(cmd, 'config')
        const { out, replicas } = cmd.optsWithGlobals<{ out: string; replicas?: string }>()
        const [{ openStoreForAcl, runAclCommand, storeOnlyAccountsNote }, { inConfigFile }] = await Promise.all([import('./acl.js'), import('../config.js')])
        try {
          // The store first: one this Voltway cannot use refuses the command before any file is written.
          const opened = await openStoreForAcl(config)
          try {
            process.stdout.write(runAclCommand({ config, out, ...(replicas !== undefined ? { replicas } : {}) }).text)
          } catch (err) {
            await opened.store?.close()
            throw err
          }
          process.stdout.write(await storeOnlyAccountsNote(config, out, opened))
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
      const opts = { ...cmd.optsWithGlobals<Omit<AccountCommand, 'kind' | 'action'>>(), config: requiredOption(cmd, 'config') }
      const [{ runAccountCommand }, { inConfigFile }] = await Promise.all([import('./accounts.js'), import('../config.js')])
      try {
        process.stdout.write(await runAccountCommand({ ...opts, kind, action: actionName }))
      } catch (err) {
        throw inConfigFile(err, opts.config)
      }
    })
  const add = addConfigOption(group.command('add'), 'hub.json').requiredOption('--id <id>', `the ${kind} id (its MQTT username)`)
  if (kind === 'vehicle') add.description('add a vehicle; prints a generated password unless --password-stdin').option('--password-stdin', 'read the password from stdin')
  else
    add
      .description('add a station; prints a one-time enrollment code for `voltway station init --enroll`')
      .requiredOption('--lat <deg>', 'latitude')
      .requiredOption('--lon <deg>', 'longitude')
      .requiredOption('--power-kw <kW>', 'rated power')
      .requiredOption('--price-minor-per-kwh <n>', 'price in minor currency units per kWh')
  add.action(run('add'))
  addConfigOption(group.command('list'), 'hub.json').description(`list the ${kind}s`).action(run('list'))
  addConfigOption(group.command('remove'), 'hub.json').description(`remove a ${kind}; a running hub disconnects it`).requiredOption('--id <id>', `the ${kind} id`).action(run('remove'))
  const passwd = addConfigOption(group.command('passwd'), 'hub.json')
    .description(`set a new password (generated and printed unless --password-stdin); a running hub disconnects the ${kind}`)
    .requiredOption('--id <id>', `the ${kind} id`)
    .option('--password-stdin', 'read the password from stdin')
  if (kind === 'station') passwd.option('--enroll', 'print a new one-time enrollment code instead of a password')
  passwd.action(run('passwd'))
}
