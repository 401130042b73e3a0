/**
 * The region's outline (Natural Earth countries from world-atlas, cut at build
 * time into region.json) projected with d3-geo's Mercator fitted to a set of
 * points with a margin: the one drawing both the stations map and the road
 * graph stand on.
 */
import { geoMercator, geoPath, type GeoPermissibleObjects } from 'd3-geo'
import { svg } from './dom.js'

export interface RegionCanvas {
  /** An `<svg>` holding the land outline; draw on it in projected coordinates. */
  root: SVGElement
  /** [lon, lat] to [x, y] in the svg's viewBox; null when off the map. */
  project: (lonLat: [number, number]) => [number, number] | null
}

export function regionCanvas(region: GeoPermissibleObjects, points: ReadonlyArray<[number, number]>, attrs: Record<string, string>, size = { w: 640, h: 420 }): RegionCanvas {
  const root = svg('svg', { viewBox: `0 0 ${size.w} ${size.h}`, role: 'img', ...attrs })
  const lons = points.map((p) => p[0])
  const lats = points.map((p) => p[1])
  const pad = Math.max(0.5, 0.2 * Math.max(Math.max(...lons) - Math.min(...lons), Math.max(...lats) - Math.min(...lats)))
  const bbox = points.length === 0 ? { type: 'Sphere' as const } : {
    type: 'MultiPoint' as const,
    coordinates: [[Math.min(...lons) - pad, Math.min(...lats) - pad], [Math.max(...lons) + pad, Math.max(...lats) + pad]],
  }
  const projection = geoMercator().fitExtent([[10, 10], [size.w - 10, size.h - 10]], bbox as GeoPermissibleObjects)
  projection.clipExtent([[0, 0], [size.w, size.h]])
  root.append(svg('path', { d: geoPath(projection)(region) ?? '', class: 'land' }))
  return { root, project: (p) => projection(p) }
}
