/**
 * Request statistics for fleets and load runs: count, errors by code and a
 * latency histogram per op (HdrHistogram, microsecond resolution, bounded
 * memory whatever the number of samples).
 */
import * as hdr from 'hdr-histogram-js'

export interface OpStats {
  count: number
  ok: number
  errors: Record<string, number>
  p50Ms: number
  p99Ms: number
  maxMs: number
}

interface OpRecord {
  count: number
  ok: number
  errors: Map<string, number>
  histogram: hdr.Histogram
}

const HIGHEST_US = 3_600_000_000

export class RequestStats {
  private readonly ops = new Map<string, OpRecord>()

  record(op: string, durationMs: number, errorCode?: string): void {
    let r = this.ops.get(op)
    if (!r) {
      r = {
        count: 0,
        ok: 0,
        errors: new Map(),
        histogram: hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, useWebAssembly: false }),
      }
      this.ops.set(op, r)
    }
    r.count++
    if (errorCode === undefined) r.ok++
    else r.errors.set(errorCode, (r.errors.get(errorCode) ?? 0) + 1)
    r.histogram.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(durationMs * 1000))))
  }

  get total(): number {
    let n = 0
    for (const r of this.ops.values()) n += r.count
    return n
  }

  errorsByCode(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const r of this.ops.values()) for (const [code, n] of r.errors) out[code] = (out[code] ?? 0) + n
    return sortKeys(out)
  }

  perOp(): Record<string, OpStats> {
    const out: Record<string, OpStats> = {}
    for (const op of [...this.ops.keys()].sort()) {
      const r = this.ops.get(op) as OpRecord
      out[op] = {
        count: r.count,
        ok: r.ok,
        errors: sortKeys(Object.fromEntries(r.errors)),
        ...percentiles(r.histogram),
      }
    }
    return out
  }

  /** Latency over every op together. */
  overall(): { p50Ms: number; p99Ms: number; maxMs: number } {
    const all = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, useWebAssembly: false })
    for (const r of this.ops.values()) all.add(r.histogram)
    return percentiles(all)
  }
}

const us = (v: number): number => Math.round(v) / 1000

/** HdrHistogram reports a bucket's upper edge; never let a percentile exceed the recorded maximum. */
function percentiles(h: hdr.Histogram): { p50Ms: number; p99Ms: number; maxMs: number } {
  const max = h.maxValue
  return { p50Ms: us(Math.min(h.getValueAtPercentile(50), max)), p99Ms: us(Math.min(h.getValueAtPercentile(99), max)), maxMs: us(max) }
}

export function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)))
}

/** Count by key, for failure reasons. */
export function bump(o: Record<string, number>, key: string, n = 1): void {
  o[key] = (o[key] ?? 0) + n
}
