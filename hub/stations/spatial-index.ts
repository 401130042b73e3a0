/**
 * Static spatial index over station positions: kdbush (a packed k-d tree)
 * queried with geokdbush, which walks it nearest-first in great-circle
 * distance, so a query costs O(log n + k) however many stations there are
 * and handles the antimeridian and the poles.
 */
import { around, distance } from 'geokdbush'
import KDBush from 'kdbush'
import type { Position } from '../../protocol/index.js'

export interface Located {
  readonly position: Position
}

export interface Hit<T> {
  item: T
  distanceKm: number
}

/** Great-circle distance in km (haversine on a 6371 km sphere, as geokdbush uses). */
export function distanceKm(a: Position, b: Position): number {
  return distance(a.lon, a.lat, b.lon, b.lat)
}

export class SpatialIndex<T extends Located> {
  readonly #items: readonly T[]
  readonly #index: KDBush

  constructor(items: readonly T[], nodeSize = 64) {
    this.#items = [...items]
    this.#index = new KDBush(this.#items.length, nodeSize)
    for (const it of this.#items) this.#index.add(it.position.lon, it.position.lat)
    this.#index.finish()
  }

  get size(): number {
    return this.#items.length
  }

  /**
   * Items within `rangeKm` of `position` (inclusive), nearest first, at most
   * `limit`; `skip` filters items out before they count towards the limit.
   */
  around(position: Position, rangeKm: number, limit = Infinity, skip?: (item: T) => boolean): Hit<T>[] {
    if (this.#items.length === 0 || limit <= 0) return []
    const predicate = skip ? (i: number): boolean => !skip(this.#items[i] as T) : undefined
    const ids = around(this.#index, position.lon, position.lat, limit, rangeKm, predicate)
    const hits: Hit<T>[] = []
    for (const i of ids) {
      const item = this.#items[i] as T
      const d = distanceKm(position, item.position)
      // Same formula as the named-station range check, so both agree at the boundary.
      if (d <= rangeKm) hits.push({ item, distanceKm: d })
    }
    return hits
  }
}
