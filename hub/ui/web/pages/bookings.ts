/** `/ui/bookings`: the next 24 h per station, to scale: reservations (with their window), holds, and trips with their legs at other companies. */
import { getJson } from '../api.js'
import { el, svg, time } from '../dom.js'
import type { Live } from '../live.js'

interface Booking {
  kind: 'reservation' | 'hold'
  id: string
  stationId: string
  vehicleId: string
  atMs: number
}
interface Trip {
  tripId: string
  vehicleId: string
  state: string
  legs: Array<{ hop: number; hubId: string; atMs: number; stationId: string | null }>
}
interface Picture {
  hubId: string
  fromMs: number
  toMs: number
  windowMs: number
  bookings: Booking[]
  trips: Trip[]
  stations: string[]
}

const W = 900
const ROW = 18
const LEFT = 110

export async function bookingsPage(root: HTMLElement, live: Live): Promise<() => void> {
  const draw = async (): Promise<void> => {
    const p = await getJson<Picture>('/ui/api/bookings')
    const booked = [...new Set(p.bookings.map((b) => b.stationId))]
    const rows = booked.length > 0 ? booked : p.stations.slice(0, 10)
    const x = (ms: number): number => LEFT + ((ms - p.fromMs) / (p.toMs - p.fromMs)) * (W - LEFT - 10)
    const chart = svg('svg', { viewBox: `0 0 ${W} ${(rows.length + 1) * ROW + 10}`, class: 'timeline', role: 'img', 'aria-label': 'bookings of the next 24 hours' })
    for (let h = 0; h <= 24; h += 3) {
      const tx = x(p.fromMs + h * 3600_000)
      chart.append(svg('line', { x1: tx, x2: tx, y1: 0, y2: (rows.length + 1) * ROW, class: 'grid' }))
      const label = svg('text', { x: tx + 2, y: 12, class: 'axis' })
      label.textContent = `+${h} h`
      chart.append(label)
    }
    rows.forEach((stationId, i) => {
      const y = (i + 1) * ROW
      const name = svg('text', { x: 4, y: y + 12, class: 'axis' })
      name.textContent = stationId
      chart.append(name)
      for (const b of p.bookings.filter((x) => x.stationId === stationId)) {
        const x0 = x(Math.max(p.fromMs, b.atMs - p.windowMs))
        const x1 = x(Math.min(p.toMs, b.atMs + p.windowMs))
        chart.append(svg('rect', { x: x0, y: y + 3, width: Math.max(1, x1 - x0), height: ROW - 6, class: `window ${b.kind}` }))
        const mark = svg('rect', { x: x(b.atMs) - 2, y: y + 1, width: 4, height: ROW - 2, class: `at ${b.kind}`, 'data-booking': b.id, 'data-station': stationId })
        const title = svg('title')
        title.textContent = `${b.kind} ${b.id}: ${b.vehicleId} at ${time(b.atMs)}`
        mark.append(title)
        chart.append(mark)
      }
    })
    const trips = el('ul', { id: 'trips' }, ...p.trips.map((t) => el('li', { 'data-trip': t.tripId }, `${t.tripId} (${t.vehicleId}, ${t.state}): `, ...t.legs.map((l) => el('span', { class: l.hubId === p.hubId ? 'leg here' : 'leg away' }, `${l.hop}. ${l.hubId}${l.stationId ? `/${l.stationId}` : ''} ${time(l.atMs)} `)))))
    root.replaceChildren(el('section', {}, el('h1', {}, 'Bookings, next 24 h'), el('p', {}, `${p.bookings.length} bookings; bars show the ±${p.windowMs / 60000} min window each blocks`), chart, el('h2', {}, 'Trips'), trips))
  }
  await draw()
  return live.on({ bookings: () => void draw() })
}
