/**
 * Book the nearest free station in range, race-free. Candidates go to the
 * store nearest-first in growing batches; each batch is one atomic
 * "first free of these" store call, so two vehicles never get one slot and
 * nobody is sent past a free nearer station in the batch it was checked in.
 * Shared by reservation.create and (later) federation holds.
 */
import type { Position } from '../../protocol/index.js'
import type { StationRegistry } from '../stations/index.js'
import type { BookingCandidate, BookingOutcome } from '../store/index.js'

/** Batch sizes: most requests are settled by the first; the last takes every station left in range. */
const BATCHES = [16, 256, 4096, Infinity] as const

export interface NearestBooking<R> {
  outcome: BookingOutcome<R>
  /** How many stations in range were tried. */
  tried: number
}

export async function bookNearest<R>(
  stations: StationRegistry,
  position: Position,
  rangeKm: number,
  book: (candidates: BookingCandidate[]) => Promise<BookingOutcome<R>>,
): Promise<NearestBooking<R>> {
  // The stations of the batches before (made only once a batch settles nothing: most settle in the first).
  let tried: Set<string> | null = null
  let count = 0
  let last: BookingOutcome<R> = { ok: false, conflicts: [] }
  for (const size of BATCHES) {
    // No filter while nothing was tried: the kd-tree search then asks no callback for every station it visits.
    const before = tried
    const hits = stations.nearest(position, rangeKm, size, before === null ? undefined : (s) => before.has(s.stationId))
    if (hits.length === 0) break
    const candidates = hits.map((h) => ({ stationId: h.item.stationId, position: h.item.position }))
    count += candidates.length
    last = await book(candidates)
    if (last.ok || last.overLimit !== undefined || hits.length < size) break
    tried ??= new Set()
    for (const c of candidates) tried.add(c.stationId)
  }
  return { outcome: last, tried: count }
}
