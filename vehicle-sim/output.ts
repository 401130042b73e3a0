/**
 * Everything the simulator prints: tables, local times, energy and money, JSON
 * documents, and errors with their hint. Commands write through an `Io` so
 * tests can capture the output.
 */
import Table from 'cli-table3'
import { ConfigError, VoltwayError, formatEnergy, formatLocalTime, formatMoney, formatPricePerKwh } from '../protocol/index.js'
import { ConnectError } from './errors.js'
import { hintFor } from './hints.js'

export interface Io {
  out(text: string): void
  err(text: string): void
  /** True when stdout is a terminal (live updates, colours, progress bars). */
  readonly isTTY: boolean
  readonly errIsTTY: boolean
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  get isTTY() {
    return process.stdout.isTTY === true
  },
  get errIsTTY() {
    return process.stderr.isTTY === true
  },
}

/** One JSON document on stdout, for scripts. */
export function printJson(io: Io, doc: unknown): void {
  io.out(`${JSON.stringify(doc, null, 2)}\n`)
}

export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } })
  for (const r of rows) t.push(r.map((c) => (typeof c === 'number' ? String(c) : c)))
  return t.toString()
}

/** Key/value pairs as a two-column table. */
export function keyValues(pairs: [string, string | number][]): string {
  const t = new Table({ style: { head: [], border: [] } })
  for (const [k, v] of pairs) t.push({ [k]: typeof v === 'number' ? String(v) : v })
  return t.toString()
}

/** The one style for times, energy and money lives in protocol/format.ts; these are its names here. */
export const localTime = formatLocalTime
export const kwh = formatEnergy
export const money = formatMoney
export const pricePerKwh = formatPricePerKwh

export function km(n: number): string {
  return `${n.toFixed(1)} km`
}

export function position(p: { lat: number; lon: number }): string {
  return `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`
}

export interface ErrorReport {
  code: string
  message: string
  hint?: string
  details?: Record<string, unknown>
}

export function errorReport(err: unknown): ErrorReport {
  if (err instanceof VoltwayError || err instanceof ConnectError) {
    const r: ErrorReport = { code: err.code, message: err.message }
    const hint = hintFor(err.code, err.details)
    if (hint) r.hint = hint
    if (err instanceof VoltwayError && err.details) r.details = err.details
    return r
  }
  if (err instanceof ConfigError) return { code: 'USAGE', message: err.message }
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) }
}

/** One line on stderr: `error CODE: message (hint: ...)`; usage errors print the message alone. */
export function printError(io: Io, report: ErrorReport): void {
  if (report.code === 'USAGE') {
    io.err(`${report.message}\n`)
    return
  }
  const detail = describeDetails(report.details)
  io.err(`error ${report.code}: ${report.message}${detail}${report.hint ? ` (hint: ${report.hint})` : ''}\n`)
}

function describeDetails(d: Record<string, unknown> | undefined): string {
  if (!d) return ''
  const parts: string[] = []
  if (d.failedHop !== undefined) parts.push(`failed hop ${String(d.failedHop)}`)
  if (typeof d.reason === 'string') parts.push(`reason ${d.reason}`)
  if (d.rolledBack === true) parts.push('nothing kept')
  return parts.length ? ` [${parts.join(', ')}]` : ''
}
