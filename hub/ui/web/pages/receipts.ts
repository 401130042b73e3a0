/** `/ui/receipts`: receipts filtered by day (UTC) and station, and the same list as CSV. */
import { getJson } from '../api.js'
import { el, kwh } from '../dom.js'
import type { Receipt } from '../types.js'

export async function receiptsPage(root: HTMLElement): Promise<() => void> {
  const day = el('input', { id: 'filter-day', type: 'date', 'aria-label': 'day' })
  const station = el('input', { id: 'filter-station', type: 'search', placeholder: 'station id', 'aria-label': 'station' })
  const csv = el('a', { id: 'csv', href: '/ui/api/receipts.csv' }, 'CSV')
  const tbody = el('tbody')
  const query = (): string => {
    const q = new URLSearchParams()
    if (day.value) q.set('day', day.value)
    if (station.value.trim()) q.set('station', station.value.trim())
    return q.size > 0 ? `?${q}` : ''
  }
  const draw = async (): Promise<void> => {
    const { receipts } = await getJson<{ receipts: Receipt[] }>(`/ui/api/receipts${query()}`)
    csv.setAttribute('href', `/ui/api/receipts.csv${query()}`)
    tbody.replaceChildren(...receipts.map((r) => el('tr', {}, ...[r.endedAt, r.stationId, r.vehicleId, kwh(r.energyWh), `${r.costMinor} ${r.currency}`, r.sessionId].map((c) => el('td', {}, c)))))
  }
  day.addEventListener('change', () => void draw())
  station.addEventListener('change', () => void draw())
  const table = el('table', {}, el('thead', {}, el('tr', {}, ...['Ended', 'Station', 'Vehicle', 'Energy', 'Cost (minor units)', 'Session'].map((h) => el('th', {}, h)))), tbody)
  root.replaceChildren(el('section', {}, el('h1', {}, 'Receipts'), el('div', { class: 'filters' }, day, station, csv), table))
  await draw()
  return () => undefined
}
