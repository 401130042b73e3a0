/**
 * The stations on a map: country outlines from Natural Earth (world-atlas,
 * cut to the region at build time into region.json), projected with d3-geo's
 * Mercator fitted to the stations, and one circle per station coloured by
 * status. Updates touch only the circles that changed.
 */
import { geoMercator, geoPath, type GeoPermissibleObjects } from 'd3-geo'
import { STATUS_COLOURS, svg } from './dom.js'
import type { StationView } from './types.js'

export class StationMap {
  readonly root: SVGElement
  readonly #dots = new Map<string, SVGElement>()
  readonly #project: (lonLat: [number, number]) => [number, number] | null

  constructor(region: GeoPermissibleObjects, stations: StationView[], onPick: (id: string) => void, size = { w: 640, h: 420 }) {
    this.root = svg('svg', { viewBox: `0 0 ${size.w} ${size.h}`, class: 'map', role: 'img', 'aria-label': 'stations map' })
    const lons = stations.map((s) => s.lon)
    const lats = stations.map((s) => s.lat)
    const pad = Math.max(0.5, 0.2 * Math.max(Math.max(...lons) - Math.min(...lons), Math.max(...lats) - Math.min(...lats)))
    const bbox = stations.length === 0 ? { type: 'Sphere' as const } : {
      type: 'MultiPoint' as const,
      coordinates: [[Math.min(...lons) - pad, Math.min(...lats) - pad], [Math.max(...lons) + pad, Math.max(...lats) + pad]],
    }
    const projection = geoMercator().fitExtent([[10, 10], [size.w - 10, size.h - 10]], bbox as GeoPermissibleObjects)
    projection.clipExtent([[0, 0], [size.w, size.h]])
    this.#project = (p) => projection(p)
    this.root.append(svg('path', { d: geoPath(projection)(region) ?? '', class: 'land' }))
    for (const s of stations) {
      const xy = this.#project([s.lon, s.lat])
      if (!xy) continue
      const c = svg('circle', { cx: xy[0].toFixed(1), cy: xy[1].toFixed(1), r: 5, 'data-station': s.id, tabindex: 0 })
      c.append(svg('title'))
      c.addEventListener('click', () => onPick(s.id))
      this.#dots.set(s.id, c)
      this.root.append(c)
      this.update(s)
    }
  }

  update(s: StationView): void {
    const c = this.#dots.get(s.id)
    if (!c) return
    c.setAttribute('data-status', s.status)
    c.setAttribute('fill', STATUS_COLOURS[s.status] ?? '#999')
    const title = c.firstChild
    if (title) title.textContent = `${s.id}: ${s.status}${s.powerW > 0 ? `, ${(s.powerW / 1000).toFixed(1)} kW` : ''}`
  }

  show(ids: ReadonlySet<string> | null): void {
    for (const [id, c] of this.#dots) c.style.display = ids === null || ids.has(id) ? '' : 'none'
  }
}
