/**
 * Time for every rule of the hub (reservation windows, lead time, hold TTLs).
 * Business code never calls `Date.now()` itself; it is given a Clock, so tests
 * move time with a TestClock instead of sleeping.
 */
import { parseTime } from '../protocol/index.js'

export interface Clock {
  /** Milliseconds since the Unix epoch. Must never throw. */
  now(): number
}

/** The machine's wall clock. */
export const systemClock: Clock = { now: () => Date.now() }

/** A clock that only moves when the test moves it. */
export class TestClock implements Clock {
  #ms: number

  /** @param start epoch milliseconds or an RFC 3339 time; defaults to 2026-11-24T12:00:00Z. */
  constructor(start: number | string = '2026-11-24T12:00:00Z') {
    this.#ms = toMs(start)
  }

  now(): number {
    return this.#ms
  }

  set(to: number | string): void {
    this.#ms = toMs(to)
  }

  advance(ms: number): void {
    this.#ms += ms
  }

  advanceMinutes(minutes: number): void {
    this.#ms += minutes * 60_000
  }

  advanceSeconds(seconds: number): void {
    this.#ms += seconds * 1000
  }
}

function toMs(t: number | string): number {
  const ms = typeof t === 'number' ? t : parseTime(t)
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(t)}`)
  return ms
}
