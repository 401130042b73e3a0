/**
 * The dashboard reads receipts and station events from the store: after a
 * restart of the hub on the same data directory, the receipts page (and its
 * filters and CSV) and the station page still show what happened before.
 */
import t from 'tap'
import type { ReceiptRecord } from '../hub/store/index.js'
import { agentConfig, startAgentFor } from './helpers/charging-e2e.js'
import { connectVehicle, hubConfig, startTestHub } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'
import { browserOrSkip, logIn, OPERATOR } from './helpers/ui-browser.js'

const browser = await browserOrSkip()

t.test('receipts and station events are still on the pages after the hub restarts', { skip: typeof browser === 'string' ? browser : false }, async (t) => {
  if (typeof browser === 'string') return
  t.teardown(() => browser.close())
  const cfg = hubConfig({ operators: [OPERATOR] })
  const before = await startTestHub(cfg)
  const agent = await startAgentFor(agentConfig(before, cfg.stations[0]!, { powerKw: 22 }))
  const v1 = await connectVehicle(before.mqttUrl, 'feira', 'V1', 'v1-pass')
  let receipt: ReceiptRecord | undefined
  try {
    await waitUntil(async () => (await v1.rpc.request('station.list', {})).stations.some((s) => s.stationId === 'FSA-1' && s.online), 10_000, 'FSA-1 online')
    const { session } = await v1.rpc.request('charge.start', { stationId: 'FSA-1' })
    await v1.rpc.request('charge.stop', { sessionId: session.sessionId })
    const stored = async () => (await before.context.store.charging.listStationEvents('FSA-1', 10)).some((e) => e.type === 'session.stopped')
    await waitUntil(stored, 10_000, "the station's session.stopped event stored")
    receipt = (await before.context.store.charging.listReceiptsBetween({ limit: 10 }))[0]
  } finally {
    await v1.close()
    await agent.stop()
    await before.close()
  }
  t.ok(receipt, 'a receipt was stored before the restart')
  if (!receipt) return

  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  const page = await logIn(browser, hub.httpUrl)
  await page.goto(`${hub.httpUrl}/ui/receipts`)
  await page.waitForSelector('body[data-ready=true]')
  await page.waitForSelector(`tr >> text=${receipt.sessionId}`, { timeout: 5000 })
  t.pass('the receipts page lists the receipt made before the restart')

  const day = new Date(receipt.endedAtMs).toISOString().slice(0, 10)
  await page.fill('#filter-day', day)
  await page.dispatchEvent('#filter-day', 'change')
  await page.waitForSelector(`#csv[href*="day=${day}"]`)
  t.equal(await page.locator(`tr >> text=${receipt.sessionId}`).count(), 1, 'filtered by its day, it is still there')
  const csv = await page.evaluate(async (href) => (await fetch(href)).text(), (await page.getAttribute('#csv', 'href')) ?? '')
  t.match(csv, new RegExp(`^${receipt.sessionId},FSA-1,V1,`, 'm'), 'and in the CSV export')

  await page.goto(`${hub.httpUrl}/ui/stations/FSA-1`)
  await page.waitForSelector('body[data-ready=true]')
  await page.waitForSelector('#station-events li[data-kind="session.stopped"]', { timeout: 5000 })
  t.match(await page.textContent('#station-receipts'), /V1/, "the station's last receipts are listed")
  t.match(await page.textContent('#station-events'), new RegExp(`session ${receipt.sessionId} started`), 'and its stored events')
})
