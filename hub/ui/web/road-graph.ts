/**
 * The federation's road graph drawn: each hub whose position is known at its
 * place on the region's map (./projection.ts, as the stations map), each link
 * of the config as a line labelled with its distance. A link whose end has no
 * known position (a peer never heard from) is listed under the drawing.
 */
import type { GeoPermissibleObjects } from 'd3-geo'
import { el, svg } from './dom.js'
import { regionCanvas } from './projection.js'

export interface GraphHub {
  hubId: string
  name: string
  position: { lat: number; lon: number }
}

export interface GraphLink {
  from: string
  to: string
  distanceKm: number
}

export function roadGraph(region: GeoPermissibleObjects, hubs: readonly GraphHub[], links: readonly GraphLink[], selfId: string): HTMLElement {
  const canvas = regionCanvas(region, hubs.map((h) => [h.position.lon, h.position.lat]), { id: 'road-graph', class: 'map', 'aria-label': 'road graph' })
  const at = new Map<string, [number, number]>()
  for (const h of hubs) {
    const xy = canvas.project([h.position.lon, h.position.lat])
    if (xy) at.set(h.hubId, xy)
  }
  const unplaced: GraphLink[] = []
  for (const l of links) {
    const a = at.get(l.from)
    const b = at.get(l.to)
    if (!a || !b) {
      unplaced.push(l)
      continue
    }
    const g = svg('g', { class: 'link', 'data-link': `${l.from}|${l.to}` })
    g.append(svg('line', { x1: a[0].toFixed(1), y1: a[1].toFixed(1), x2: b[0].toFixed(1), y2: b[1].toFixed(1), stroke: '#f59e0b', 'stroke-width': 2 }))
    const label = svg('text', { x: ((a[0] + b[0]) / 2).toFixed(1), y: ((a[1] + b[1]) / 2 - 4).toFixed(1), 'text-anchor': 'middle', class: 'distance' })
    label.textContent = `${l.distanceKm} km`
    g.append(label)
    canvas.root.append(g)
  }
  for (const h of hubs) {
    const xy = at.get(h.hubId)
    if (!xy) continue
    const g = svg('g', { class: 'hub', 'data-hub': h.hubId })
    g.append(svg('circle', { cx: xy[0].toFixed(1), cy: xy[1].toFixed(1), r: h.hubId === selfId ? 8 : 6, fill: h.hubId === selfId ? '#3b82f6' : '#e2e8f0' }))
    const label = svg('text', { x: (xy[0] + 10).toFixed(1), y: (xy[1] + 4).toFixed(1), class: 'hub-name' })
    label.textContent = h.name
    g.append(label)
    canvas.root.append(g)
  }
  const missing = unplaced.map((l) => el('li', { 'data-unplaced': `${l.from}|${l.to}` }, `${l.from} — ${l.to}: ${l.distanceKm} km (position not known yet)`))
  return el('figure', {}, canvas.root, ...(missing.length > 0 ? [el('ul', {}, ...missing)] : []))
}
