/** How station commands report hardware trouble: one line with the code, what happened and what to check. */
import { isHwError, type HwError } from '../../hw/errors.js'
import { EXIT_FAILURE } from '../../cli-errors.js'

export function hwErrorLine(err: HwError): string {
  return `error ${err.code}: ${err.message}. Check: ${err.hint}`
}

/** Run `fn`; an HwError becomes one line on stderr and exit 1, anything else goes to the caller. */
export async function withHwErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isHwError(err)) {
      process.stderr.write(`${hwErrorLine(err)}\n`)
      process.exit(EXIT_FAILURE)
    }
    throw err
  }
}
