/**
 * What every one-shot command shares: the connection and position flags, flag
 * parsers that turn bad values into usage errors (exit 2), and `runOneShot`,
 * which connects, runs one command, prints the result as a table or as one
 * JSON document, and turns failures into `error CODE: ... (hint: ...)` with
 * exit code 1.
 */
import { InvalidArgumentError, type Command } from 'commander'
import { ConfigError, Id, RequestId, VoltwayError } from '../../protocol/index.js'
import { UsageError } from '../errors.js'
import { connectVehicle, type VehicleConnection } from '../connect.js'
import { errorReport, printError, printJson, processIo, type Io } from '../output.js'
import { DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, STATION_OP_TIMEOUT_MS, resolveConnection, type ConnectionFlags, type PositionFlags } from '../settings.js'

export interface CommonFlags extends ConnectionFlags {
  json?: boolean
}

/** Where a command writes and how it ends; the real CLI uses the process, tests capture it. */
export interface CliContext {
  io: Io
  setExitCode(code: number): void
  env: NodeJS.ProcessEnv
}

export const processCli: CliContext = {
  io: processIo,
  setExitCode: (code) => void (process.exitCode = code),
  env: process.env,
}

export interface CommandOutput {
  /** The JSON document printed with --json. */
  json: unknown
  /** The human-readable rendering. */
  human: () => string
}

export function numberFlag(opts: { min?: number; max?: number; integer?: boolean } = {}): (v: string) => number {
  return (v: string) => {
    const n = Number(v)
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number')
    if (opts.integer && !Number.isInteger(n)) throw new InvalidArgumentError('expected an integer')
    if (opts.min !== undefined && n < opts.min) throw new InvalidArgumentError(`must be >= ${opts.min}`)
    if (opts.max !== undefined && n > opts.max) throw new InvalidArgumentError(`must be <= ${opts.max}`)
    return n
  }
}

export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--hub <url>', 'broker URL of the hub, e.g. mqtt://127.0.0.1:1883 (env VOLTWAY_HUB)')
    .option('--hub-id <id>', 'hub id to send requests to (env VOLTWAY_HUB_ID)')
    .option('--ca <file>', 'PEM file of the CA that signed the hub broker\'s certificate, for an mqtts:// --hub (env VOLTWAY_CA)')
    .option('--vehicle <id>', 'vehicle id, also the MQTT username (env VOLTWAY_VEHICLE)')
    .option('--password <p>', 'vehicle password (env VOLTWAY_PASSWORD)')
    .option('--mqtt-version <n>', 'MQTT protocol: 4 (MQTT 3.1.1) or 5 (default: 4)', numberFlag({ integer: true, min: 4, max: 5 }))
    .option('--profile <file>', 'JSON profile with hub, hubId, vehicle, password, position, battery (env VOLTWAY_PROFILE)')
    .option('--connect-timeout-ms <ms>', 'give up connecting after this long', numberFlag({ integer: true, min: 1 }), 5000)
    .option('--timeout-ms <ms>', `give up waiting for an answer after this long, per try (default: ${DEFAULT_TIMEOUT_MS}; ${STATION_OP_TIMEOUT_MS} for charge start/stop, which wait on the station)`, numberFlag({ integer: true, min: 1 }))
    .option('--retries <n>', `send a request unanswered after --timeout-ms again, with the same request id, up to this many times; the hub acts on it once (default: ${DEFAULT_RETRIES}; 0 to fail fast)`, numberFlag({ integer: true, min: 0, max: 10 }))
    .option('--json', 'print one JSON document on stdout instead of tables')
}

export function addPositionOptions(cmd: Command): Command {
  return cmd
    .option('--lat <deg>', 'vehicle latitude', numberFlag({ min: -90, max: 90 }))
    .option('--lon <deg>', 'vehicle longitude', numberFlag({ min: -180, max: 180 }))
    .option('--range-km <km>', 'remaining range', numberFlag({ min: 0 }))
    .option('--capacity-kwh <kwh>', 'battery capacity, to derive the range', numberFlag({ min: 0 }))
    .option('--soc <0..1>', 'state of charge, to derive the range', numberFlag({ min: 0, max: 1 }))
    .option('--consumption <kwh/100km>', 'consumption, to derive the range', numberFlag({ min: 0 }))
}

export type PositionCommandFlags = CommonFlags & PositionFlags

/**
 * Connect, run `fn`, print its output, close. Never throws; sets process.exitCode.
 * `check` validates the command's own flags before connecting, so a bad flag is
 * a usage error (exit 2) whether or not the hub is up; `fn` gets what it returns.
 */
export async function runOneShot<C = undefined>(
  flags: CommonFlags,
  fn: (conn: VehicleConnection, io: Io, checked: C) => Promise<CommandOutput>,
  cli: CliContext = processCli,
  check: () => C = () => undefined as C,
): Promise<number> {
  const io = cli.io
  let conn: VehicleConnection | undefined
  let code = 0
  try {
    const settings = resolveConnection(flags, cli.env)
    const checked = check()
    conn = await connectVehicle(settings)
    const output = await fn(conn, io, checked)
    if (flags.json) printJson(io, output.json)
    else io.out(`${output.human()}\n`)
  } catch (err) {
    const report = errorReport(err)
    printError(io, report)
    if (flags.json) printJson(io, { ok: false, error: report })
    code = err instanceof ConfigError ? 2 : 1
  } finally {
    await conn?.close()
  }
  cli.setExitCode(code)
  return code
}

/** An id given on the command line, checked before it goes on the wire. */
export function idFlag(value: string | undefined, name: string): string {
  if (value === undefined) throw new UsageError(`missing ${name}`)
  if (!Id.safeParse(value).success) throw new UsageError(`${name}: expected an id matching ^[A-Za-z0-9_-]{1,64}$`)
  return value
}

/** `runOneShot` with the context first, so command files read top-down. */
export function runOneShotWith(cli: CliContext, flags: CommonFlags, fn: (conn: VehicleConnection, io: Io) => Promise<CommandOutput>): Promise<number> {
  return runOneShot(flags, fn, cli)
}

/** `runOneShotWith` whose command flags are checked (and turned into what `fn` needs) before connecting. */
export function runCheckedWith<C>(
  cli: CliContext,
  flags: CommonFlags,
  check: () => C,
  fn: (conn: VehicleConnection, io: Io, checked: C) => Promise<CommandOutput>,
): Promise<number> {
  return runOneShot(flags, fn, cli, check)
}

/** The flag addRequestIdOption adds. */
export interface RequestIdFlags {
  requestId?: string
}

/**
 * `--request-id`, on the commands whose op changes something: the request id is its idempotency key
 * (docs/protocol.md "Repeated requests"), so a request whose answer never came can be sent again with it.
 */
export function addRequestIdOption(cmd: Command): Command {
  return cmd.option('--request-id <id>', 'send the request with this id (default: a new one); to repeat a request whose answer never came, give the id its error printed and the same arguments: the hub acts on it once')
}

/** The request options for `--request-id`, checked before connecting. */
export function requestIdFlag(value: string | undefined): { requestId?: string } {
  if (value === undefined) return {}
  if (!RequestId.safeParse(value).success) throw new UsageError('--request-id: expected 1 to 128 characters, without control characters')
  return { requestId: value }
}

/**
 * `send`, whose TIMEOUT (no answer: the change may have been made all the same) also says how to send the
 * very same request again: `fixed` are the flags that pin what may have moved since (absolute times for
 * relative ones), followed by the request id it went with (details.repeat, which the hint prints).
 */
export async function repeatable<T>(send: () => Promise<T>, fixed: string): Promise<T> {
  try {
    return await send()
  } catch (err) {
    const id = err instanceof VoltwayError && err.code === 'TIMEOUT' ? err.details?.id : undefined
    if (typeof id !== 'string' || !(err instanceof VoltwayError)) throw err
    throw new VoltwayError('TIMEOUT', err.message, { ...err.details, repeat: `${fixed}${fixed ? ' ' : ''}--request-id ${shellWord(id)}` })
  }
}

/**
 * `value` as one word of a shell command line, to paste as it is: unchanged when it holds only characters
 * no shell reads specially (and does not start with `=`, which zsh expands to a command's path), else in
 * single quotes (a `'` in it written `'\''`).
 */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_.:,+/@%-][A-Za-z0-9_.:,+/=@%-]*$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`
}
