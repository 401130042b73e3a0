/**
 * Live progress of a fleet run on stderr: a cli-progress bar on a terminal,
 * one plain line every few seconds otherwise (CI logs, pipes).
 */
import { SingleBar } from 'cli-progress'
import type { FleetSnapshot } from './engine.js'

export interface ProgressDisplay {
  update(s: FleetSnapshot): void
  stop(): void
}

const line = (s: FleetSnapshot): string => {
  const p = s.phases
  const c = s.counters
  return `t=${(s.realMs / 1000).toFixed(0)}s sim=${(s.simMs / 60_000).toFixed(0)}min driving=${p.driving} charging=${p.charging} arrived=${p.arrived} stranded=${p.stranded} trips=${c.trips.booked} resv=${c.reservations.booked} sessions=${c.charging.sessions} req=${s.requests}`
}

export function createProgress(stream: NodeJS.WriteStream, opts: { tty: boolean; plainEveryMs?: number }): ProgressDisplay {
  if (opts.tty) {
    const bar = new SingleBar(
      { stream, format: '{bar} {percentage}% | {status}', hideCursor: true, clearOnComplete: false, barsize: 30, fps: 5 },
    )
    let started = false
    return {
      update(s) {
        if (!started) {
          bar.start(1000, 0, { status: '' })
          started = true
        }
        bar.update(Math.round(s.progress * 1000), { status: line(s) })
      },
      stop() {
        if (started) bar.stop()
      },
    }
  }
  const every = opts.plainEveryMs ?? 5000
  let last = -Infinity
  return {
    update(s) {
      if (s.realMs - last < every) return
      last = s.realMs
      stream.write(`${line(s)}\n`)
    },
    stop() {},
  }
}
