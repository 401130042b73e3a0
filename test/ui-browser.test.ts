/**
 * The dashboard in headless chromium against a real hub with station agents
 * on mock boards: the map shows every station with its status, live power
 * shows within 2 s of a vehicle starting, the operator disables a station
 * from the page and vehicles are refused there, and a booking appears on the
 * timeline. With VOLTWAY_SCREENSHOT=path it also saves the stations page
 * (`npm run screenshot` writes docs/img/dashboard.png this way).
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import t from 'tap'
import { formatTime } from '../protocol/index.js'
import { agentConfig, startAgentFor } from './helpers/charging-e2e.js'
import { connectVehicle, hubConfig, startTestHub } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'
import { browserOrSkip, logIn, OPERATOR } from './helpers/ui-browser.js'

const STATIONS = [
  { stationId: 'FSA-1', position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73, password: 's3cret-1' },
  { stationId: 'FSA-2', position: { lat: -12.3, lon: -38.99 }, powerKw: 50, priceMinorPerKwh: 90, password: 's3cret-2' },
  { stationId: 'SSA-1', position: { lat: -12.97, lon: -38.5 }, powerKw: 150, priceMinorPerKwh: 99, password: 's3cret-3' },
  { stationId: 'VDC-1', position: { lat: -14.86, lon: -40.84 }, powerKw: 22, priceMinorPerKwh: 70, password: 's3cret-4' },
]

const browser = await browserOrSkip()

t.test('the dashboard shows the hub live and acts on its stations', { skip: typeof browser === 'string' ? browser : false }, async (t) => {
  if (typeof browser === 'string') return
  t.teardown(() => browser.close())
  const cfg = hubConfig({ operators: [OPERATOR], stations: STATIONS, rules: { minLeadMinutes: 60, windowMinutes: 120 } })
  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  // Three agents online; VDC-1 stays offline so the map shows more than one status.
  const agents = await Promise.all(STATIONS.slice(0, 3).map((s) => startAgentFor(agentConfig(hub, s, { powerKw: 22 }))))
  t.teardown(() => Promise.all(agents.map((a) => a.stop())))
  const v1 = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v1.close())
  await waitUntil(async () => (await v1.rpc.request('station.list', {})).stations.filter((s) => s.online).length === 3, 10_000, 'three stations online')

  const page = await logIn(browser, hub.httpUrl)

  await t.test('log in and see every station of the hub on the map with its status', async (t) => {
    for (const s of STATIONS) {
      const want = s.stationId === 'VDC-1' ? 'offline' : 'available'
      await page.waitForSelector(`circle[data-station="${s.stationId}"][data-status="${want}"]`, { timeout: 5000 })
      t.pass(`${s.stationId} is on the map as ${want}`)
    }
    t.equal(await page.locator('circle[data-station]').count(), STATIONS.length, 'one dot per station')
  })

  await t.test('a vehicle starts charging and the page shows power rising within 2 s', async (t) => {
    const { session } = await v1.rpc.request('charge.start', { stationId: 'FSA-1' })
    const started = Date.now()
    const cell = await page.waitForSelector('[data-power="FSA-1"]:not([data-w="0"])', { timeout: 2000 })
    t.ok(Date.now() - started <= 2000, `power shown after ${Date.now() - started} ms`)
    t.ok(Number(await cell.getAttribute('data-w')) > 0, `live power ${await cell.textContent()}`)
    await page.waitForSelector('circle[data-station="FSA-1"][data-status="charging"]', { timeout: 2000 })
    if (process.env.VOLTWAY_SCREENSHOT) {
      await page.waitForSelector('tr[data-row="FSA-1"] >> text=V1 ·')
      mkdirSync(dirname(process.env.VOLTWAY_SCREENSHOT), { recursive: true })
      await page.screenshot({ path: process.env.VOLTWAY_SCREENSHOT })
    }
    await page.goto(`${hub.httpUrl}/ui/stations/FSA-1`)
    await page.waitForSelector('body[data-ready=true]')
    await page.waitForSelector('#power-chart canvas')
    t.match(await page.textContent('#station-facts'), /charging/, 'the station page shows the session')
    await page.click('#action-stop')
    await page.waitForSelector('#station-events li[data-kind="session.stopped"]', { timeout: 5000 })
    t.pass(`the operator stopped ${session.sessionId} from the page; the journal shows it`)
  })

  await t.test("the operator disables a station from the page and a vehicle's charge.start there is refused", async (t) => {
    await page.goto(`${hub.httpUrl}/ui/stations/FSA-2`)
    await page.waitForSelector('body[data-ready=true]')
    await page.click('#action-disable')
    await page.waitForSelector('#station-facts[data-status="disabled"]', { timeout: 5000 })
    const listed = (await v1.rpc.request('station.list', {})).stations.find((s) => s.stationId === 'FSA-2')
    t.equal(listed?.status, 'disabled', 'vehicles see the station as disabled')
    await t.rejects(v1.rpc.request('charge.start', { stationId: 'FSA-2' }), { code: 'STATION_BUSY', details: { status: 'disabled' } })
    await page.click('#action-enable')
    await page.waitForSelector('#station-facts[data-status="available"]', { timeout: 5000 })
    const { session } = await v1.rpc.request('charge.start', { stationId: 'FSA-2' })
    t.ok(session.sessionId, 'enabled again, it charges')
    await v1.rpc.request('charge.stop', { sessionId: session.sessionId })
  })

  await t.test('a booking appears on the timeline', async (t) => {
    await page.goto(`${hub.httpUrl}/ui/bookings`)
    await page.waitForSelector('body[data-ready=true]')
    const { reservation } = await v1.rpc.request('reservation.create', { at: formatTime(Date.now() + 3 * 3600_000), position: STATIONS[2]!.position, rangeKm: 5, stationId: 'SSA-1' })
    await page.waitForSelector(`[data-booking="${reservation.reservationId}"][data-station="SSA-1"]`, { timeout: 3000 })
    t.pass('the new reservation is drawn on its station row')
  })

  await t.test('logged out, the pages send the browser back to the login form', async (t) => {
    await page.click('#logout')
    await page.waitForURL(`${hub.httpUrl}/ui/login`)
    await page.goto(`${hub.httpUrl}/ui/receipts`)
    t.equal(new URL(page.url()).pathname, '/ui/login')
  })
})
