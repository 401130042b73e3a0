/** How every `voltway` command reports a failure: one line on stderr and an exit code. */
import { pino, type DestinationStream } from 'pino'
import { ConfigError, VoltwayError } from './protocol/index.js'

/** Exit codes: 1 = the operation failed, 2 = the config or the command line is wrong. */
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

export function reportFatal(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`)
    process.exit(EXIT_USAGE)
  }
  if (err instanceof VoltwayError) {
    process.stderr.write(`error ${err.code}: ${err.message}\n`)
    process.exit(EXIT_FAILURE)
  }
  const msg = err instanceof Error ? err.message : String(err)
  process.stderr.write(`error: ${msg}\n`)
  process.exit(EXIT_FAILURE)
}

/**
 * A reader that went away (`voltway ... | head -3`) makes the next write to
 * stdout or stderr fail EPIPE: end quietly, with exit 0 (or the code the
 * command already set), as a shell pipeline expects; any other error on the
 * stream is reported like any other failure.
 */
export function endQuietlyOnBrokenPipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (service !== null) return serviceOutputLost(stream, err)
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      // stderr itself failing: nowhere left to say why.
      if (stream === process.stderr) process.exit(EXIT_FAILURE)
      reportFatal(err)
    })
  }
}

/** The long-running service this process is (keepRunningWithoutOutput), or null for a command that ends. */
let service: string | null = null
const lost = new Set<NodeJS.WriteStream>()

/**
 * This process is a long-running service (`name`: "hub", "station agent"): a reader of its stdout or
 * stderr that goes away (a log shipper restarted, `| head`) must not stop it. It would stop at once
 * with exit 0, without its shutdown: a hub without draining its requests, an agent without opening
 * its relay, and a supervisor that restarts on failure would leave it down. It goes on instead; the
 * lost stream's lines are dropped (pino drops its own on EPIPE), and that is said once on the other
 * stream while it still works.
 */
export function keepRunningWithoutOutput(name: string): void {
  service = name
}

/**
 * The destination of a service's pino log: standard output, written by pino's own writer as pino writes by
 * default. That writer drops its lines once the reader is gone (EPIPE) without a word; the service notes it
 * as for `process.stdout` (the same file descriptor), the only stream it otherwise writes once, at start.
 */
export function serviceLogDestination(): DestinationStream {
  const dest = pino.destination({ dest: process.stdout.fd ?? 1, minLength: 0 })
  dest.on('error', (err: NodeJS.ErrnoException) => serviceOutputLost(process.stdout, err))
  return dest
}

function serviceOutputLost(stream: NodeJS.WriteStream, err: NodeJS.ErrnoException): void {
  if (service === null || lost.has(stream)) return
  lost.add(stream)
  const other = stream === process.stdout ? process.stderr : process.stdout
  if (lost.has(other)) return
  const which = stream === process.stdout ? 'stdout' : 'stderr'
  const note = `${service}: ${which} failed (${err.code ?? err.message}); going on, its lines on ${which} are dropped until the ${service} restarts`
  // Standard output is the service's JSON log (read with jq, a log shipper): the note goes there as a log line.
  other.write(other === process.stdout ? `${JSON.stringify({ level: 40, time: Date.now(), msg: note })}\n` : `${note}\n`)
}

/** Wrap a commander action so its rejection is reported like any other failure. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args)
    } catch (err) {
      reportFatal(err)
    }
  }
}
