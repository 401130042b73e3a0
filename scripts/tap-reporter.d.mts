import type { Transform } from 'node:stream'
/** tap's reporter for logs: TAP in, one line per test file and failures in full out (see tap-reporter.mjs). */
export default class LogReporter extends Transform {}
