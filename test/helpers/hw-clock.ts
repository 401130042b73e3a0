/** A clock tests advance by hand (base/clock.ts's ManualClock), starting 2025-01-01T08:00Z for the hw tests. */
import { ManualClock } from '../../base/clock.js'

export type { ManualClock }

export function manualClock(start = Date.UTC(2025, 0, 1, 8)): ManualClock {
  return new ManualClock(start)
}
