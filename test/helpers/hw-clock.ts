/** A clock tests advance by hand. */
export interface ManualClock {
  now: () => number
  advance(ms: number): void
}

export function manualClock(start = Date.UTC(2025, 0, 1, 8)): ManualClock {
  let t = start
  return {
    now: () => t,
    advance(ms: number) {
      t += ms
    },
  }
}
