/**
 * The stations on a map: the region's outline fitted to the stations
 * (./projection.ts), and one circle per station coloured by status. Updates touch only the circles that changed.
 */
import type { GeoPermissibleObjects } from 'd3-geo'
import { STATUS_COLOURS, svg } from './dom.js'
import { regionCanvas } from './projection.js'
import type { StationView } from './types.js'

export class StationMap {
  readonly root: SVGElement
  readonly #dots = new Map<string, SVGElement>()
  readonly #project: (lonLat: [number, number]) => [number, number] | null

  constructor(region: GeoPermissibleObjects, stations: StationView[], onPick: (id: string) => void, size = { w: 640, h: 420 }) {
    const canvas = regionCanvas(region, stations.map((s) => [s.lon, s.lat]), { class: 'map', 'aria-label': 'stations map' }, size)
    this.root = canvas.root
    this.#project = canvas.project
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
