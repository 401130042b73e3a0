/**
 * Time for every room (hw, station, hub, vehicle-sim): the one Clock
 * interface. Rules read wall time from it (reservation windows, hold TTLs,
 * offline limits, timestamps); waits (retry back-off, wait-die, timeouts) run
 * on its timers, so a test can replace both. Business code never calls
 * `Date.now()`, `performance.now()` or `setTimeout` for a rule or a wait
 * itself; it is given a Clock.
 *
 * This module is in `base/`, the floor below every room: it imports nothing
 * from the project, so even `hw/` (which imports nothing above it) may use it.
 */

export interface Clock {
  /** Wall time, milliseconds since the Unix epoch. Must never throw. */
  now(): number
  /** Monotonic milliseconds (arbitrary origin), for measuring how long a wait has run. Never goes back. */
  monotonic(): number
  /**
   * Call `fn` once after `ms` milliseconds of this clock's timer time.
   * Returns a function that cancels the call (a no-op once it ran).
   */
  setTimer(fn: () => void, ms: number): () => void
}

/** A source of uniform random numbers in [0, 1), injected where jitter matters (Math.random by default). */
export type Random = () => number

/** The machine's clock: Date.now, performance.now and setTimeout. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms)
    return () => clearTimeout(t)
  },
}

/** Resolve after `ms` of `clock`'s timer time. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(resolve, ms))
}

/**
 * A clock whose wall time moves only when the test moves it. Waits still run
 * on real timers (monotonic time and setTimer are the system's), so tests wait
 * on events as before while every time-window rule sees the time they set.
 */
export class ManualClock implements Clock {
  #ms: number

  /** @param start epoch milliseconds; defaults to 2026-11-24T12:00:00Z. */
  constructor(start: number = Date.UTC(2026, 10, 24, 12)) {
    if (!Number.isFinite(start)) throw new RangeError(`not a time: ${String(start)}`)
    this.#ms = start
  }

  /** Bound, so `clock.now` may be passed around as a function. */
  readonly now = (): number => this.#ms

  monotonic(): number {
    return systemClock.monotonic()
  }

  setTimer(fn: () => void, ms: number): () => void {
    return systemClock.setTimer(fn, ms)
  }

  /** Set the wall time (epoch ms). */
  setMs(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(ms)}`)
    this.#ms = ms
  }

  advance(ms: number): void {
    this.#ms += ms
  }
}
