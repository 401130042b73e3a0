/** The dashboard in the browser: the session, the live stream, and the page the path names. */
import 'uplot/dist/uPlot.min.css'
import './style.css'
import { getJson, post, setCsrf } from './api.js'
import { Live } from './live.js'
import { bookingsPage } from './pages/bookings.js'
import { federationPage } from './pages/federation.js'
import { metricsPage } from './pages/metrics.js'
import { receiptsPage } from './pages/receipts.js'
import { stationPage } from './pages/station.js'
import { stationsPage } from './pages/stations.js'

declare global {
  interface Window {
    /** For tests and the benchmark: the live state and how many messages were applied. */
    __voltwayLive?: Live
  }
}

async function main(): Promise<void> {
  const root = document.getElementById('page') as HTMLElement
  const session = await getJson<{ operator: string; csrf: string }>('/ui/api/session')
  setCsrf(session.csrf)
  ;(document.getElementById('operator') as HTMLElement).textContent = session.operator
  document.getElementById('logout')?.addEventListener('click', () => void post('/ui/logout').finally(() => location.assign('/ui/login')))
  const overview = await getJson<{ hub: { name: string } }>('/ui/api/overview')
  ;(document.getElementById('hub-name') as HTMLElement).textContent = overview.hub.name
  const live = new Live()
  window.__voltwayLive = live
  const badge = document.getElementById('live') as HTMLElement
  const firstSnapshot = new Promise<void>((resolve) => {
    const off = live.on({ stations: () => (off(), resolve()) })
  })
  live.connect((up) => {
    badge.textContent = up ? 'live' : 'reconnecting'
    badge.className = `live ${up ? 'on' : 'off'}`
  })
  await firstSnapshot
  const path = location.pathname
  const station = /^\/ui\/stations\/([^/]+)$/.exec(path)
  if (station?.[1]) await stationPage(root, live, decodeURIComponent(station[1]))
  else if (path === '/ui/bookings') await bookingsPage(root, live)
  else if (path === '/ui/federation') await federationPage(root)
  else if (path === '/ui/receipts') await receiptsPage(root)
  else if (path === '/ui/metrics') await metricsPage(root)
  else await stationsPage(root, live)
  document.body.dataset.ready = 'true'
}

main().catch((err: unknown) => {
  const root = document.getElementById('page')
  if (root) root.textContent = `The dashboard could not start: ${err instanceof Error ? err.message : String(err)}`
})
