/** `/ui/`: every station on the map and in a table (status, live power, session, next booking), with filters by status and id. */
import type { GeoPermissibleObjects } from 'd3-geo'
import { getJson } from '../api.js'
import { el, kw, kwh, time } from '../dom.js'
import type { Live } from '../live.js'
import { StationMap } from '../map.js'
import type { StationView } from '../types.js'

const STATUSES = ['all', 'available', 'charging', 'faulted', 'disabled', 'offline']

export async function stationsPage(root: HTMLElement, live: Live): Promise<() => void> {
  const region = await getJson<GeoPermissibleObjects>('/ui/assets/region.json')
  const stations = [...live.stations.values()]
  const map = new StationMap(region, stations, (id) => location.assign(`/ui/stations/${encodeURIComponent(id)}`))
  const status = el('select', { id: 'filter-status', 'aria-label': 'status filter' }, ...STATUSES.map((s) => el('option', { value: s }, s)))
  const search = el('input', { id: 'filter-id', type: 'search', placeholder: 'station id', 'aria-label': 'station id filter' })
  const tbody = el('tbody')
  const rows = new Map<string, HTMLTableRowElement>()
  const cells = (s: StationView): Array<Node | string> => [
    el('a', { href: `/ui/stations/${encodeURIComponent(s.id)}` }, s.id),
    el('span', { class: `badge ${s.status}` }, s.status),
    el('span', { 'data-power': s.id, 'data-w': String(s.powerW) }, kw(s.powerW)),
    s.sessionId === null ? '—' : `${s.vehicleId ?? '?'} · ${kwh(s.energyWh)}`,
    time(s.nextBookingAtMs),
  ]
  const render = (s: StationView): void => {
    let tr = rows.get(s.id)
    if (!tr) {
      tr = el('tr', { 'data-row': s.id })
      rows.set(s.id, tr)
      tbody.append(tr)
    }
    tr.replaceChildren(...cells(s).map((c) => el('td', {}, c)))
    tr.dataset.status = s.status
    map.update(s)
  }
  const filter = (): void => {
    const st = status.value
    const q = search.value.trim().toLowerCase()
    const shown = new Set<string>()
    for (const [id, tr] of rows) {
      const ok = (st === 'all' || tr.dataset.status === st) && (q === '' || id.toLowerCase().includes(q))
      tr.hidden = !ok
      if (ok) shown.add(id)
    }
    map.show(shown)
  }
  status.addEventListener('change', filter)
  search.addEventListener('input', filter)
  for (const s of stations) render(s)
  const table = el('table', { class: 'stations' }, el('thead', {}, el('tr', {}, ...['Station', 'Status', 'Power', 'Session', 'Next booking'].map((h) => el('th', {}, h)))), tbody)
  root.replaceChildren(el('section', { class: 'split' }, el('div', {}, map.root), el('div', {}, el('div', { class: 'filters' }, status, search), table)))
  return live.on({
    stations(changed) {
      for (const s of changed) render(s)
      if (status.value !== 'all' || search.value !== '') filter()
    },
  })
}
