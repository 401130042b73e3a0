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
