/** Great-circle geometry on WGS84 positions (docs/protocol.md: distances are great-circle km). */
import type { Position } from '../protocol/index.js'

const EARTH_RADIUS_KM = 6371.0088
const rad = (d: number): number => (d * Math.PI) / 180
const deg = (r: number): number => (r * 180) / Math.PI

export function distanceKm(a: Position, b: Position): number {
  const dLat = rad(b.lat - a.lat)
  const dLon = rad(b.lon - a.lon)
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)))
}

/** The point `fraction` (0..1) of the way from a to b along the great circle. */
export function interpolate(a: Position, b: Position, fraction: number): Position {
  const f = Math.min(1, Math.max(0, fraction))
  const d = distanceKm(a, b) / EARTH_RADIUS_KM
  if (d < 1e-12) return { lat: a.lat, lon: a.lon }
  const A = Math.sin((1 - f) * d) / Math.sin(d)
  const B = Math.sin(f * d) / Math.sin(d)
  const x = A * Math.cos(rad(a.lat)) * Math.cos(rad(a.lon)) + B * Math.cos(rad(b.lat)) * Math.cos(rad(b.lon))
  const y = A * Math.cos(rad(a.lat)) * Math.sin(rad(a.lon)) + B * Math.cos(rad(b.lat)) * Math.sin(rad(b.lon))
  const z = A * Math.sin(rad(a.lat)) + B * Math.sin(rad(b.lat))
  return { lat: deg(Math.atan2(z, Math.sqrt(x * x + y * y))), lon: deg(Math.atan2(y, x)) }
}

/** A point `distance` km from `origin` on initial bearing `bearingDeg`. */
export function destinationPoint(origin: Position, bearingDeg: number, distance: number): Position {
  const d = distance / EARTH_RADIUS_KM
  const th = rad(bearingDeg)
  const lat1 = rad(origin.lat)
  const lon1 = rad(origin.lon)
  const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(th))
  const lon2 = lon1 + Math.atan2(Math.sin(th) * Math.sin(d) * Math.cos(lat1), Math.cos(d) - Math.sin(lat1) * Math.sin(lat2))
  return { lat: deg(lat2), lon: ((deg(lon2) + 540) % 360) - 180 }
}

/**
 * Distance from `start` to each hop along the route, in road km. The road
 * network only tells us the route's total `roadKm`; each great-circle leg
 * between hops is stretched by the same factor so the cumulative figures add
 * up to it. The approach from `start` to hop 0 stays great-circle.
 */
export function cumulativeHopKm(start: Position, hops: readonly Position[], roadKm?: number): number[] {
  const legs: number[] = []
  for (let i = 1; i < hops.length; i++) legs.push(distanceKm(hops[i - 1] as Position, hops[i] as Position))
  const gc = legs.reduce((s, x) => s + x, 0)
  const factor = roadKm !== undefined && roadKm > 0 && gc > 0 ? roadKm / gc : 1
  const out: number[] = []
  let acc = hops.length > 0 ? distanceKm(start, hops[0] as Position) : 0
  out.push(acc)
  for (const leg of legs) {
    acc += leg * factor
    out.push(acc)
  }
  return hops.length > 0 ? out : []
}

/** Hop times for a trip leaving `start` at `departMs` at an average `speedKmh`. */
export function hopTimes(start: Position, hops: readonly Position[], departMs: number, speedKmh: number, roadKm?: number): number[] {
  return cumulativeHopKm(start, hops, roadKm).map((km) => departMs + Math.round((km / speedKmh) * 3_600_000))
}
