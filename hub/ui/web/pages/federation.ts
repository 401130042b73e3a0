/**
 * `/ui/federation`: each peer's health both ways (its calls to this hub, and
 * this hub's calls to it: last call, latency, errors, token refusals), and
 * the road graph drawn on the region's map (./road-graph.ts).
 */
import type { GeoPermissibleObjects } from 'd3-geo'
import { getJson } from '../api.js'
import { el, time } from '../dom.js'
import { roadGraph, type GraphHub, type GraphLink } from '../road-graph.js'

interface Direction {
  calls: number
  errors: number
  lastCallAtMs: number | null
  lastLatencyMs: number | null
  lastStatus: number | null
}

interface Fed {
  hubId: string
  peers: Array<Direction & { hubId: string; outbound: Direction & { tokenRefusals: number } }>
  tokenRefusals: number
  configured: Array<{ hubId: string; url: string }>
  links: GraphLink[]
  hubs: GraphHub[]
}

const latency = (ms: number | null): string => (ms === null ? '—' : `${ms} ms`)
const status = (d: Direction): string => (d.lastCallAtMs === null ? '—' : d.lastStatus === null ? 'no answer' : String(d.lastStatus))

export async function federationPage(root: HTMLElement): Promise<() => void> {
  const region = await getJson<GeoPermissibleObjects>('/ui/assets/region.json')
  const draw = async (): Promise<void> => {
    const f = await getJson<Fed>('/ui/api/federation')
    const url = new Map(f.configured.map((c) => [c.hubId, c.url]))
    const head = ['Peer', 'URL', 'Their last call', 'Latency', 'Calls', 'Errors', 'Our last call', 'Latency', 'Status', 'Calls', 'Errors', 'Token refused']
    const rows = f.peers.map((p) => {
      const o = p.outbound
      const cells = [p.hubId, url.get(p.hubId) ?? '', time(p.lastCallAtMs), latency(p.lastLatencyMs), String(p.calls), String(p.errors), time(o.lastCallAtMs), latency(o.lastLatencyMs), status(o), String(o.calls), String(o.errors), String(o.tokenRefusals)]
      return el('tr', { 'data-peer': p.hubId, 'data-out-calls': String(o.calls) }, ...cells.map((c) => el('td', {}, c)))
    })
    const table = el('table', {}, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))), el('tbody', {}, ...rows))
    root.replaceChildren(
      el('section', {}, el('h1', {}, `Federation of ${f.hubId}`), table, el('p', {}, `Calls to this hub refused for a missing or unknown token: ${f.tokenRefusals}`), el('h2', {}, 'Road graph'), roadGraph(region, f.hubs, f.links, f.hubId)),
    )
  }
  await draw()
  const timer = setInterval(() => void draw().catch(() => undefined), 5000)
  return () => clearInterval(timer)
}
