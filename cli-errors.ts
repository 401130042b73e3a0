/** How every `voltway` command reports a failure: one line on stderr and an exit code. */
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
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      // stderr itself failing: nowhere left to say why.
      if (stream === process.stderr) process.exit(EXIT_FAILURE)
      reportFatal(err)
    })
  }
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
