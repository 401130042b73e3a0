/**
 * `findBookings` on PostgreSQL, one round trip for many questions: the
 * questions asked during one turn of the event loop (a burst of
 * `station.nearest`, 64 vehicles at once) are grouped by time, and each group
 * is answered by ONE query over the union of its stations and windows, which
 * the group's questions then filter each for itself with the booking rules
 * (`blocks`, ../booking-rules.ts). A node-postgres round trip costs the hub
 * far more CPU than the few extra rows, so a burst of 20 costs about what one
 * did (bench/hub-mqtt.ts, "PostgreSQL").
 *
 * Exact, not cached: every question is answered from a snapshot taken after
 * it was asked, as if it had run alone a moment later. The union's SQL keeps
 * every row any question of the group could need (the window as an open
 * interval around each `at`, holds live at the group's earliest clock).
 */
import { TurnBatch, answering, type Asked } from '../../../base/turn-batch.js'
import { blocks } from '../booking-rules.js'
import { compareBookings } from '../booking.js'
import type { Booking, BookingQuery } from '../types.js'

/** One query over stations `stationIds`, bookings strictly between `loMs` and `hiMs`, holds live at `nowMs`. */
export type FindUnion = (q: { stationIds: string[]; loMs: number; hiMs: number; nowMs: number }) => Promise<Booking[]>

type Waiting = Asked<BookingQuery, Booking[]>

export class FindBatcher {
  readonly #find: FindUnion
  readonly #batch: TurnBatch<BookingQuery, Booking[]>

  constructor(find: FindUnion) {
    this.#find = find
    this.#batch = new TurnBatch(async (waiting) => {
      await Promise.all(groupsByTime(waiting).map((group) => answering(group, () => this.#answer(group))))
    })
  }

  /** What blocks `query`, sorted as every store sorts it (compareBookings). */
  find(query: BookingQuery): Promise<Booking[]> {
    return this.#batch.ask(query)
  }

  async #answer(group: Waiting[]): Promise<void> {
    const ids = new Set<string>()
    let loMs = Infinity
    let hiMs = -Infinity
    let nowMs = Infinity
    for (const { question: q } of group) {
      for (const id of q.stationIds) ids.add(id)
      loMs = Math.min(loMs, q.atMs - q.windowMs)
      hiMs = Math.max(hiMs, q.atMs + q.windowMs)
      nowMs = Math.min(nowMs, q.nowMs)
    }
    const rows = await this.#find({ stationIds: [...ids], loMs, hiMs, nowMs })
    for (const { question: q, resolve } of group) {
      const mine = new Set(q.stationIds)
      resolve(rows.filter((b) => mine.has(b.stationId) && blocks(b, q)).sort(compareBookings))
    }
  }
}

/**
 * Questions sorted by `at`, cut where the next window starts after the current group's end: a
 * group's union spans its windows plus the gaps between overlapping ones, never months of bookings
 * between two far-apart questions.
 */
function groupsByTime(waiting: readonly Waiting[]): Waiting[][] {
  const sorted = [...waiting].sort((a, b) => a.question.atMs - b.question.atMs)
  const groups: Waiting[][] = []
  let current: Waiting[] = []
  let endMs = -Infinity
  for (const w of sorted) {
    const { atMs, windowMs } = w.question
    if (current.length > 0 && atMs - windowMs > endMs) {
      groups.push(current)
      current = []
      endMs = -Infinity
    }
    current.push(w)
    endMs = Math.max(endMs, atMs + windowMs)
  }
  if (current.length > 0) groups.push(current)
  return groups
}
