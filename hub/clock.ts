/**
 * The hub's test clock: a ManualClock (base/clock.ts) that also takes
 * RFC 3339 times, as the hub's rules and wire messages are written in them.
 * The Clock interface itself lives in base/clock.ts, shared by every room.
 */
import { ManualClock } from '../base/clock.js'
import { parseTime } from '../protocol/index.js'

/** A clock that only moves when the test moves it. */
export class TestClock extends ManualClock {
  /** @param start epoch milliseconds or an RFC 3339 time; defaults to 2026-11-24T12:00:00Z. */
  constructor(start: number | string = '2026-11-24T12:00:00Z') {
    super(toMs(start))
  }

  set(to: number | string): void {
    this.setMs(toMs(to))
  }

  advanceMinutes(minutes: number): void {
    this.advance(minutes * 60_000)
  }

  advanceSeconds(seconds: number): void {
    this.advance(seconds * 1000)
  }
}

function toMs(t: number | string): number {
  const ms = typeof t === 'number' ? t : parseTime(t)
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(t)}`)
  return ms
}
