/**
 * Seeded randomness. Each vehicle draws from its own generator (seed, index),
 * so its choices do not depend on the order in which network answers arrive:
 * the same seed gives the same fleet and the same decisions.
 */
import prand from 'pure-rand'
import type { Position } from '../../protocol/index.js'
import { destinationPoint } from '../geo.js'
import type { SpreadValue } from './scenario.js'

export class Rng {
  private readonly gen: prand.RandomGenerator

  constructor(seed: number, stream = 0) {
    this.gen = prand.xoroshiro128plus((seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0)
  }

  /** Uniform in [0, 1). */
  next(): number {
    return (this.gen.unsafeNext() >>> 0) / 2 ** 32
  }

  int(min: number, max: number): number {
    return prand.unsafeUniformIntDistribution(min, max, this.gen)
  }

  spread(v: SpreadValue): number {
    return typeof v === 'number' ? v : v.min + (v.max - v.min) * this.next()
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('nothing to pick from')
    return items[this.int(0, items.length - 1)] as T
  }

  /** A point uniformly distributed over the disc of `radiusKm` around `center`. */
  pointAround(center: Position, radiusKm: number): Position {
    const r = radiusKm * Math.sqrt(this.next())
    return destinationPoint(center, this.next() * 360, r)
  }
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32) >>> 0
}
