/**
 * Route ids: a function of the hop ids alone, so a route has the same id on
 * every hub of the federation, across restarts and config reloads. Hub ids
 * may contain every character an id may, so they are hashed rather than
 * joined: `rt_` + 22 base64url characters of SHA-256 over the ids joined by
 * newlines (132 bits: collisions are not a concern among at most 10 routes
 * per destination).
 */
import { createHash } from 'node:crypto'

export function routeIdOf(hops: readonly string[]): string {
  return `rt_${createHash('sha256').update(hops.join('\n'), 'utf8').digest('base64url').slice(0, 22)}`
}
