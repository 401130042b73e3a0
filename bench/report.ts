/**
 * How every benchmark reports: a table on a terminal, or JSON rows with
 * `--json` so `npm run bench` (bench/run.ts) can merge them into one table.
 */
import Table from 'cli-table3'

export interface BenchRow {
  bench: string
  metric: string
  value: number
  unit: string
  /** The target, e.g. ">= 0.5" or "<= 80". */
  goal?: string
  /** Whether the goal is met (omitted when there is no goal). */
  ok?: boolean
}

export function report(rows: BenchRow[]): void {
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ rows })}\n`)
    return
  }
  const table = new Table({ head: ['bench', 'metric', 'value', 'unit', 'goal', 'met'] })
  for (const r of rows) table.push([r.bench, r.metric, fmt(r.value), r.unit, r.goal ?? '', r.ok === undefined ? '' : r.ok ? 'yes' : 'NO'])
  process.stdout.write(`${table.toString()}\n`)
}

export function fmt(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString('en-US')
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3)
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}
