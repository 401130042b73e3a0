import type { Command } from 'commander'
import { action, EXIT_FAILURE } from '../../cli-errors.js'
import { ConfigError, readTlsMaterial } from '../../protocol/index.js'
import { addConfigOption, requiredOption } from '../../cli-help.js'
import { loadStationConfig } from '../config.js'
import type { InitOptions } from './init.js'

// The agent, the hardware drivers and MQTT load only when a station command
// runs, so `voltway hub` and `voltway vehicle` do not pay for johnny-five.

export function registerStationCommands(program: Command): void {
  // `station` is both the agent and the parent of init/check/service: --config is checked by each action.
  const station = addConfigOption(program.command('station'), 'station.json')
    .description('run the station agent on a charger board, or set one up')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const config = requiredOption(cmd, 'config')
        const { runStation } = await import('./run.js')
        await runStation(config)
      }),
    )
  station
    .command('init')
    .description('print a station.json for this board')
    .requiredOption('--id <stationId>', 'station id, as in the hub config')
    .requiredOption('--hub <url>', 'broker URL, e.g. mqtt://hub.example:1883')
    .option('--ca <file>', "PEM file of the CA that signed the hub's certificates, for an mqtts:// --hub (and an https:// --hub-http)")
    .option('--hub-id <hubId>', 'the hub (company) id', 'hub')
    .option('--password <password>', "this station's MQTT password, to put in the hub's stations list (default: a new random one)")
    .option('--enroll <code>', 'one-time enrollment code from `voltway hub station add`: the hub sends this station its password')
    .option('--hub-http <url>', "the hub's HTTP URL for --enroll (default: the --hub host, port 8025)")
    .option('--data-dir <dir>', 'where the agent keeps its SQLite outbox (default: ./data/<id>)')
    .option('--board <type>', 'mock | firmata', 'mock')
    .option('--serial <path>', 'serial port of a firmata board, e.g. /dev/ttyACM0')
    .option('--baud <n>', 'baud rate of the firmata board (default: 57600)')
    .option('--relay-pin <pin>', 'relay output pin (default: 7)')
    .option('--relay-type <NO|NC>', 'relay type (default: NO)')
    .option('--meter <type>', 'mock | modbus-rtu | s0', 'mock')
    .option('--meter-serial <path>', 'RS-485 port of a modbus-rtu meter, e.g. /dev/ttyUSB0')
    .option('--meter-baud <n>', "modbus baud rate (default: the model's factory setting, e.g. 2400 for SDM120)")
    .option('--meter-model <model>', 'modbus meter model, e.g. SDM120, SDM630')
    .option('--unit-id <n>', 'modbus unit id (default: 1)')
    .option('--s0-pin <pin>', 'S0 pulse input pin (default: 2)')
    .option('--pulses-per-kwh <n>', 'S0 pulses per kWh')
    .option('--power-kw <kW>', 'mock car power (default: 22)')
    .option('--offline-minutes <n>', 'offline.maxChargeMinutes (default: 30)')
    .action(
      action(async (opts: InitOptions & { enroll?: string; hubHttp?: string }) => {
        const { buildStationConfig } = await import('./init.js')
        if (opts.enroll !== undefined) {
          if (opts.password !== undefined) throw new ConfigError('station init: --enroll and --password exclude each other: the hub sends the password for an enrollment code')
          const { defaultHubHttp, enrollStation } = await import('../enroll.js')
          // Validate every other option before the code is spent.
          buildStationConfig({ ...opts, password: 'x' })
          const { enroll: code, hubHttp, ...rest } = opts
          const answer = await enrollStation(hubHttp ?? defaultHubHttp(opts.hub), opts.id, code, opts.ca === undefined ? {} : readTlsMaterial('--ca', { ca: opts.ca }))
          const { config } = buildStationConfig({ ...rest, hubId: answer.hubId, password: answer.password })
          process.stdout.write(`${JSON.stringify(config, null, 2)}\n`)
          process.stderr.write(`enrolled ${config.stationId} at hub ${answer.hubId}: its password is in this station.json only; keep the file private\n`)
          return
        }
        const { config, generatedPassword } = buildStationConfig(opts)
        process.stdout.write(`${JSON.stringify(config, null, 2)}\n`)
        if (generatedPassword) process.stderr.write(`generated a new MQTT password: add it as stations[].password for ${config.stationId} in the hub config\n`)
      }),
    )
  addConfigOption(station.command('check'), 'station.json')
    .description('hardware self-test: board, relay, meter, serial ports, hub (stop the agent first)')
    .option('--toggle-relay', 'also close and open the relay once')
    .option('--json', 'print the results as JSON')
    .action(
      action(async (opts: { toggleRelay?: boolean; json?: boolean }, cmd: Command) => {
        const cfg = loadStationConfig(requiredOption(cmd, 'config'))
        const { formatChecks, runChecks } = await import('./check.js')
        const steps = await runChecks(cfg, { toggleRelay: opts.toggleRelay === true })
        const ok = steps.every((s) => s.ok)
        process.stdout.write(opts.json ? `${JSON.stringify({ ok, steps }, null, 2)}\n` : `${formatChecks(steps)}\n`)
        // Serial handles and johnny-five timers may linger; the verdict is in.
        process.exit(ok ? 0 : EXIT_FAILURE)
      }),
    )
  addConfigOption(station.command('service'), 'station.json')
    .description('print a systemd unit that runs the agent')
    .option('--user <user>', 'the non-root user the agent runs as', 'voltway')
    .option('--watchdog-sec <s>', "systemd's WatchdogSec: restart the agent when its health loop has been silent this long (default: 20)")
    .action(
      action(async (opts: { user: string; watchdogSec?: string }, cmd: Command) => {
        const configFile = requiredOption(cmd, 'config')
        const cfg = loadStationConfig(configFile)
        const { systemdUnit } = await import('./service.js')
        const watchdogSec = opts.watchdogSec === undefined ? {} : { watchdogSec: Number(opts.watchdogSec) }
        process.stdout.write(systemdUnit(cfg, { configFile, user: opts.user, ...watchdogSec }))
      }),
    )
}

