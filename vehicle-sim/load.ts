/**
 * Load generator for benchmarks: one op, at a target rate (open loop: requests
 * leave on schedule whatever the answers do, capped at `concurrency` in
 * flight, and the ones that could not leave are counted as `missed`) or as
 * fast as `concurrency` workers allow (closed loop, optionally paced by rate).
 */
import type { OpArgsInput, OpName, RpcClient } from '../protocol/index.js'
import { codeOf } from './errors.js'
import { RequestStats, type OpStats } from './stats.js'

export interface LoadOptions {
  op: OpName
  args: OpArgsInput<OpName>
  mode: 'open' | 'closed'
  /** Requests per second; required for open loop, optional pacing for closed loop. */
  rate?: number
  durationMs: number
  concurrency: number
  signal?: AbortSignal
  /** Called about once a second. */
  onProgress?: (p: { elapsedMs: number; completed: number; inFlight: number }) => void
}

export interface LoadResult {
  op: OpName
  mode: 'open' | 'closed'
  targetRate: number | null
  concurrency: number
  durationS: number
  sent: number
  completed: number
  ok: number
  /** Open loop only: sends due while `concurrency` requests were already in flight. */
  missed: number
  requestsPerSec: number
  errors: Record<string, number>
  latency: Pick<OpStats, 'p50Ms' | 'p99Ms' | 'maxMs'>
}

export async function runLoad(rpc: RpcClient, o: LoadOptions): Promise<LoadResult> {
  if (o.mode === 'open' && !(o.rate && o.rate > 0)) throw new RangeError('open loop needs a rate')
  const stats = new RequestStats()
  const started = performance.now()
  const deadline = started + o.durationMs
  let sent = 0
  let completed = 0
  let inFlight = 0
  let missed = 0
  let lastProgress = started

  const fire = async (): Promise<void> => {
    sent++
    inFlight++
    const t0 = performance.now()
    try {
      await rpc.request(o.op, o.args as never)
      stats.record(o.op, performance.now() - t0)
    } catch (err) {
      stats.record(o.op, performance.now() - t0, codeOf(err))
    } finally {
      inFlight--
      completed++
    }
  }
  const progress = (now: number): void => {
    if (o.onProgress && now - lastProgress >= 1000) {
      lastProgress = now
      o.onProgress({ elapsedMs: now - started, completed, inFlight })
    }
  }
  const stopped = (): boolean => o.signal?.aborted === true || performance.now() >= deadline

  if (o.mode === 'open') {
    const rate = o.rate as number
    const running = new Set<Promise<void>>()
    let due = 0
    while (!stopped()) {
      const now = performance.now()
      const shouldHave = Math.floor(((now - started) * rate) / 1000)
      while (due < shouldHave) {
        due++
        if (inFlight >= o.concurrency) {
          missed++
          continue
        }
        const p = fire().finally(() => running.delete(p))
        running.add(p)
      }
      progress(now)
      const nextAt = started + ((due + 1) * 1000) / rate
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(50, nextAt - performance.now()))))
    }
    await Promise.all(running)
  } else {
    const pace = o.rate && o.rate > 0 ? 1000 / o.rate : 0
    let nextSlot = started
    const worker = async (): Promise<void> => {
      while (!stopped()) {
        if (pace > 0) {
          const slot = nextSlot
          nextSlot += pace
          const wait = slot - performance.now()
          if (wait > 0) await new Promise((r) => setTimeout(r, wait))
          if (stopped()) break
        }
        await fire()
        progress(performance.now())
      }
    }
    await Promise.all(Array.from({ length: o.concurrency }, worker))
  }
  const elapsedS = (performance.now() - started) / 1000
  const per = stats.perOp()[o.op]
  return {
    op: o.op,
    mode: o.mode,
    targetRate: o.rate ?? null,
    concurrency: o.concurrency,
    durationS: Math.round(elapsedS * 1000) / 1000,
    sent,
    completed,
    ok: per?.ok ?? 0,
    missed,
    requestsPerSec: Math.round((completed / elapsedS) * 10) / 10,
    errors: stats.errorsByCode(),
    latency: { p50Ms: per?.p50Ms ?? 0, p99Ms: per?.p99Ms ?? 0, maxMs: per?.maxMs ?? 0 },
  }
}
