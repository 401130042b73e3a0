/** `/ui/stations/:id`: live power of the current session (uPlot), events, last receipts, clock skew, and the operator's actions. */
import uPlot from 'uplot'
import { getJson, post } from '../api.js'
import { el, kw, kwh, time } from '../dom.js'
import type { Live } from '../live.js'
import type { JournalEntry, Receipt, StationView } from '../types.js'

interface StationDetail {
  station: StationView
  power: Array<{ t: number; powerW: number }>
  events: JournalEntry[]
  receipts: Receipt[]
  clockSkewSeconds: number | null
}

export async function stationPage(root: HTMLElement, live: Live, id: string): Promise<() => void> {
  const d = await getJson<StationDetail>(`/ui/api/stations/${encodeURIComponent(id)}`)
  let sessionId = d.station.sessionId
  const xs: number[] = d.power.map((p) => p.t / 1000)
  const ys: number[] = d.power.map((p) => p.powerW / 1000)
  const head = el('h1', {}, id)
  const facts = el('p', { id: 'station-facts' })
  const message = el('p', { id: 'action-result', role: 'status' })
  const chartBox = el('div', { id: 'power-chart' })
  const chart = new uPlot({ width: 640, height: 240, title: 'Power of the current session', scales: { x: { time: true } }, series: [{}, { label: 'kW', stroke: '#3b82f6', width: 2 }] }, [xs, ys], chartBox)
  const events = el('ul', { id: 'station-events' }, ...d.events.map((e) => el('li', { 'data-kind': e.kind }, `${time(e.atMs)} ${e.text}`)))
  const receipts = el('ul', { id: 'station-receipts' }, ...d.receipts.map((r) => el('li', {}, `${r.endedAt} ${r.vehicleId} ${kwh(r.energyWh)} ${r.costMinor} ${r.currency}`)))
  const act = (name: string): HTMLButtonElement => {
    const b = el('button', { id: `action-${name}`, type: 'button' }, name)
    b.addEventListener('click', () => {
      b.disabled = true
      post(`/ui/api/stations/${encodeURIComponent(id)}/${name}`)
        .then(() => (message.textContent = `${name}: done`))
        .catch((err: Error) => (message.textContent = `${name}: ${err.message}`))
        .finally(() => (b.disabled = false))
    })
    return b
  }
  const showFacts = (s: StationView): void => {
    facts.textContent = `${s.status} · ${kw(s.powerW)} of ${s.powerKw} kW · ${s.sessionId === null ? 'no session' : `session ${s.sessionId} (${s.vehicleId ?? '?'}, ${kwh(s.energyWh)})`} · clock skew ${d.clockSkewSeconds === null ? '—' : `${d.clockSkewSeconds.toFixed(1)} s`}`
    facts.dataset.status = s.status
  }
  showFacts(d.station)
  root.replaceChildren(el('section', {}, head, facts, el('div', { class: 'actions' }, act('stop'), act('disable'), act('enable')), message, chartBox, el('h2', {}, 'Events'), events, el('h2', {}, 'Last receipts'), receipts))
  return live.on({
    stations(changed, all) {
      const s = all.get(id)
      if (!s || !changed.some((c) => c.id === id)) return
      if (s.sessionId !== sessionId) {
        sessionId = s.sessionId
        xs.length = 0
        ys.length = 0
        chart.setData([xs, ys])
      }
      showFacts(s)
    },
    power(points) {
      const mine = points.filter((p) => p.stationId === id && p.sessionId === sessionId)
      if (mine.length === 0) return
      for (const p of mine) {
        xs.push(p.t / 1000)
        ys.push(p.powerW / 1000)
      }
      chart.setData([xs, ys])
    },
    journal(entries) {
      for (const e of entries) if (e.stationId === id) events.prepend(el('li', { 'data-kind': e.kind }, `${time(e.atMs)} ${e.text}`))
    },
  })
}
