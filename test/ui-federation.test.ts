/**
 * The dashboard's federation page in headless chromium, on two real hubs that
 * are each other's peers: the road graph is drawn (hubs at their positions on
 * the region's map, links with their distances; a link to a hub whose position
 * is unknown is listed), and the peers' health shows this hub's own calls to
 * each peer with the same count as `/metrics`.
 */
import t from 'tap'
import { hubConfig, startTestHub } from './helpers/hub.js'
import { BAHIA, token } from './helpers/federation-hubs.js'
import { freePort, waitUntil } from './helpers/net.js'
import { browserOrSkip, logIn, OPERATOR } from './helpers/ui-browser.js'

const browser = await browserOrSkip()

t.test('the federation page draws the road graph and counts our calls to each peer as /metrics does', { skip: typeof browser === 'string' ? browser : false }, async (t) => {
  if (typeof browser === 'string') return
  t.teardown(() => browser.close())
  const [feira, salvador] = BAHIA as [(typeof BAHIA)[number], (typeof BAHIA)[number]]
  const ports = { feira: await freePort(), salvador: await freePort() }
  const links = [
    { from: 'feira', to: 'salvador', distanceKm: 108 },
    { from: 'salvador', to: 'ilheus', distanceKm: 400 },
  ]
  const config = (me: typeof feira, other: typeof feira) =>
    hubConfig({
      hubId: me.hubId,
      name: `${me.city} Charging`,
      city: me.city,
      position: me.position,
      operators: [OPERATOR],
      http: { host: '127.0.0.1', port: ports[me.hubId as keyof typeof ports] },
      stations: [{ stationId: me.stations[0]!.stationId, position: me.stations[0]!.position, powerKw: 22, priceMinorPerKwh: 73, password: 'x-secret' }],
      federation: {
        peers: [{ hubId: other.hubId, url: `http://127.0.0.1:${ports[other.hubId as keyof typeof ports]}`, token: token(me.hubId, other.hubId), acceptToken: token(other.hubId, me.hubId) }],
        links,
      },
    })
  const peer = await startTestHub(config(salvador, feira), { ephemeralPorts: false })
  t.teardown(() => peer.close())
  const hub = await startTestHub(config(feira, salvador), { ephemeralPorts: false })
  t.teardown(() => hub.close())
  // At start the hub asks its peer for its hub info (name, position): one outbound call at least.
  await waitUntil(async () => hub.federation.hubs().length === 2, 5000, "the peer's position known")

  const page = await logIn(browser, hub.httpUrl)
  await page.goto(`${hub.httpUrl}/ui/federation`)
  await page.waitForSelector('body[data-ready=true]')

  await t.test('the hubs are drawn at their positions on the region map, linked with their distances', async (t) => {
    await page.waitForSelector('#road-graph path.land')
    const centre = async (id: string) => {
      const c = page.locator(`#road-graph g[data-hub="${id}"] circle`)
      return { x: Number(await c.getAttribute('cx')), y: Number(await c.getAttribute('cy')) }
    }
    const a = await centre('feira')
    const b = await centre('salvador')
    t.ok(b.x > a.x && b.y > a.y, `Salvador is drawn south-east of Feira (${JSON.stringify({ a, b })})`)
    const line = page.locator('#road-graph g[data-link="feira|salvador"] line')
    t.same([Number(await line.getAttribute('x1')), Number(await line.getAttribute('y2'))], [a.x, b.y], 'the link joins the two hubs')
    t.equal(await page.textContent('#road-graph g[data-link="feira|salvador"] text'), '108 km')
    t.match(await page.textContent('[data-unplaced="salvador|ilheus"]'), /400 km/, 'a link to a hub of unknown position is listed, not drawn')
  })

  await t.test("the peer's row shows this hub's calls to it, as many as /metrics counts", async (t) => {
    const row = page.locator('tr[data-peer="salvador"]')
    const shown = Number(await row.getAttribute('data-out-calls'))
    t.ok(shown >= 1, `${shown} outbound calls shown`)
    const text = await (await fetch(`${hub.httpUrl}/metrics`)).text()
    const counted = [...text.matchAll(/^voltway_federation_client_requests_total\{([^}]*)\} (\d+)/gm)].filter((m) => m[1]!.includes('peer="salvador"')).reduce((n, m) => n + Number(m[2]), 0)
    t.equal(shown, counted, 'the page and /metrics count the same calls')
  })
})
