/**
 * `voltway demo`: the whole federation on this machine (embedded brokers,
 * SQLite, station agents on mock boards), a short story, then exit 0; or,
 * with `--keep-running`, leave it up and print how to connect.
 */
import { once } from 'node:events'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pino } from 'pino'
import { ConfigError, logLevelOf, makeConfiguredDirectory } from '../protocol/index.js'
import { COMPANIES, DRIVERS } from './companies.js'
import { buildDemoConfigs, writeDemoConfigs } from './configs.js'
import { startDemoFederation, type DemoFederation } from './federation.js'
import { tellStory } from './story.js'

export interface DemoOptions {
  keepRunning?: boolean
  dir?: string
  basePort?: string
  json?: boolean
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const basePort = Number(opts.basePort ?? '18800')
  if (!Number.isInteger(basePort) || basePort < 0 || basePort > 65_500) throw new ConfigError(`demo: --base-port must be 0 or a port number up to 65500, got ${opts.basePort}`)
  const level = logLevelOf('demo', undefined, 'info')
  const dir = opts.dir ? resolve(opts.dir) : mkdtempSync(join(tmpdir(), 'voltway-demo-'))
  if (opts.dir) {
    makeConfiguredDirectory(dir, `demo: --dir ${opts.dir}`, 'give a directory this user may create or write, or leave --dir out for a new temporary one')
    refusePreviousData(dir, opts.dir)
  }
  const out = (line = ''): void => {
    if (!opts.json) process.stdout.write(`${line}\n`)
  }
  const logFile = join(dir, 'demo.log')
  const cfgs = await buildDemoConfigs(dir, basePort)
  const files = writeDemoConfigs(dir, cfgs)
  const dest = pino.destination({ dest: logFile, mkdir: true, sync: false })
  // Opened before anything can end the demo: an asynchronous destination flushed before its file is open throws
  // ("sonic boom is not ready yet"), which turned a listener that could not bind (exit 2) into exit 1.
  await once(dest, 'ready')
  const logger = pino({ level }, dest)

  out('Voltway demo: four charging companies in Bahia, federated along BR-324 and BR-116.')
  let fed: DemoFederation | undefined
  const cleanup = async (): Promise<void> => {
    await fed?.close()
    logger.flush()
    if (!opts.dir) rmSync(dir, { recursive: true, force: true })
  }
  try {
    fed = await startDemoFederation(cfgs, logger)
    for (const c of COMPANIES) {
      const hub = fed.hubs.get(c.hubId)
      out(`  ${c.name.padEnd(18)} ${c.city.padEnd(22)} ${c.stations.length} stations  mqtt ${hub?.mqttUrl}  http ${hub?.httpUrl}`)
    }
    out()
    const outcome = await tellStory(fed, out)
    if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, ...outcome })}\n`)
    if (!opts.keepRunning) {
      out(`The story is over. ${opts.dir ? `Configs, data and logs stay in ${dir}.` : 'Add --dir DIR to keep the configs, data and logs.'} Run \`voltway demo --keep-running\` to try it yourself.`)
      await cleanup()
      return
    }
    printConnectionDetails(fed, filesLine(dir, files.length, logFile, opts.dir !== undefined), out)
    await new Promise<void>((resolveStop) => {
      const stop = (): void => resolveStop()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    out('Stopping the federation...')
    await cleanup()
  } catch (err) {
    await cleanup()
    throw err
  }
}

/**
 * Where the configs and logs are while the federation runs. Without --dir
 * they live in a temporary folder that Ctrl-C deletes, and the line says so.
 */
export function filesLine(dir: string, fileCount: number, logFile: string, kept: boolean): string {
  const where = `Configs (${fileCount} files) are in ${dir}; logs in ${logFile}`
  return kept
    ? `${where}. They stay after Ctrl-C. Press Ctrl-C to stop.`
    : `${where}: a temporary folder that Ctrl-C deletes along with the federation (add --dir DIR to keep them). Press Ctrl-C to stop.`
}

function printConnectionDetails(fed: DemoFederation, files: string, out: (l?: string) => void): void {
  const salvador = fed.hubs.get('salvador')
  const tester = DRIVERS.find((d) => d.vehicleId === 'tester')
  if (!salvador || !tester) return
  const mqtt = new URL(salvador.mqttUrl)
  out(`The federation keeps running. Connect as the vehicle "tester" (a customer of ${salvador.config.name}; at other companies it charges through that hub):`)
  for (const [id, hub] of fed.hubs) out(`  ${id.padEnd(10)} broker ${hub.mqttUrl}   health ${hub.httpUrl}/healthz   metrics ${hub.httpUrl}/metrics`)
  out(`  vehicle: tester   password: ${tester.password}`)
  out()
  out("Each company's dashboard (log in with its operator token):")
  for (const [id, hub] of fed.hubs) out(`  ${id.padEnd(10)} ${hub.httpUrl}/ui/   token ${hub.config.operators[0]?.token ?? '(none)'}`)
  out()
  out('Try the vehicle simulator:')
  const conn = `--hub ${salvador.mqttUrl} --hub-id salvador --vehicle tester --password ${tester.password}`
  out(`  npx voltway vehicle stations ${conn}`)
  out(`  npx voltway vehicle nearest ${conn} --lat -12.98 --lon -38.48 --range-km 30`)
  out(`  npx voltway vehicle routes ${conn} --to conquista --all`)
  // Leaving later than Ana: her trip and Carla's booking fill Jequié around her times.
  out(`  npx voltway vehicle trip ${conn} --to conquista --depart +6h --lat -12.98 --lon -38.48 --range-km 380`)
  out(`  npx voltway vehicle charge ${conn} --station SSA-2 --kwh 0.5`)
  out(`  npx voltway vehicle history ${conn}`)
  out()
  out("Or talk MQTT yourself with Mosquitto's request/response client (no -i needed):")
  out(`  mosquitto_rr -h ${mqtt.hostname} -p ${mqtt.port} -u tester -P ${tester.password} -t voltway/v1/hubs/salvador/req/tester -e voltway/v1/vehicles/tester/res -m '{"id":"1","op":"station.nearest","args":{"position":{"lat":-12.98,"lon":-38.48},"rangeKm":30}}'`)
  out()
  out(files)
}

/**
 * A --dir that holds an earlier run's data is refused before anything starts: the story books the same
 * chargers at the same times again, so its third step would find them taken (RESERVATION_CONFLICT) halfway
 * through. That data is the user's (what they booked by hand since), so it is never deleted here.
 */
function refusePreviousData(dir: string, given: string): void {
  const data = join(dir, 'data')
  if (!existsSync(data) || readdirSync(data).length === 0) return
  throw new ConfigError(
    `demo: --dir ${given} holds an earlier demo's data (${data}): the story would find its chargers booked already; give a new directory, or remove ${data} to tell the story again (to go on with that federation, start its parts by hand from the configs in ${given}, as the README says)`,
  )
}
