/** `/ui/federation`: each peer's calls to this hub (last call, latency, errors), token refusals, and the road graph. */
import { getJson } from '../api.js'
import { el, time } from '../dom.js'

interface Fed {
  hubId: string
  peers: Array<{ hubId: string; calls: number; errors: number; lastCallAtMs: number | null; lastLatencyMs: number | null; lastStatus: number | null }>
  tokenRefusals: number
  configured: Array<{ hubId: string; url: string }>
  links: Array<{ from: string; to: string; distanceKm: number }>
}

export async function federationPage(root: HTMLElement): Promise<() => void> {
  const draw = async (): Promise<void> => {
    const f = await getJson<Fed>('/ui/api/federation')
    const url = new Map(f.configured.map((c) => [c.hubId, c.url]))
    const rows = f.peers.map((p) => el('tr', { 'data-peer': p.hubId }, ...[p.hubId, url.get(p.hubId) ?? '', time(p.lastCallAtMs), p.lastLatencyMs === null ? '—' : `${p.lastLatencyMs} ms`, String(p.calls), String(p.errors)].map((c) => el('td', {}, c))))
    const table = el('table', {}, el('thead', {}, el('tr', {}, ...['Peer', 'URL', 'Last call', 'Latency', 'Calls', 'Errors'].map((h) => el('th', {}, h)))), el('tbody', {}, ...rows))
    const graph = el('ul', { id: 'road-graph' }, ...f.links.map((l) => el('li', {}, `${l.from} — ${l.to}: ${l.distanceKm} km`)))
    root.replaceChildren(el('section', {}, el('h1', {}, `Federation of ${f.hubId}`), table, el('p', {}, `Calls refused for a missing or unknown token: ${f.tokenRefusals}`), el('h2', {}, 'Road graph'), graph))
  }
  await draw()
  const timer = setInterval(() => void draw().catch(() => undefined), 5000)
  return () => clearInterval(timer)
}
