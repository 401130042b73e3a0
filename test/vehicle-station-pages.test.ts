/**
 * `voltway vehicle stations` pages through `station.list` (listAllStations) against hubs that answer
 * differently from ours: one from before paging (every station at once, no `next`) and a faulty one whose
 * `next` stands still. Our own hub's pages, on a real broker, are in test/hub-mqtt-packet-limit.test.ts.
 */
import t from 'tap'
import { OPS, VoltwayError, type OpName, type Station } from '../protocol/index.js'
import { listAllStations, renderStations, STATION_PAGE } from '../vehicle-sim/commands/stations.js'

const station = (stationId: string): Station => ({ stationId, hubId: 'other', position: { lat: 0, lon: 0 }, powerKw: 22, priceMinorPerKwh: 73, currency: 'BRL', status: 'available', online: true })

/** A remote hub answering `station.list` with `answer(args)`, its answers checked against the protocol's result schema. */
function remoteHub(answer: (args: { after?: string; limit?: number }) => unknown, stations = 1000): { asked: unknown[]; request: (op: OpName, args: unknown) => Promise<never> } {
  const asked: unknown[] = []
  return {
    asked,
    request: async (op, args) => {
      if (op === 'hub.info') return OPS['hub.info'].result.parse({ hubId: 'other', name: 'Other', city: 'X', position: { lat: 0, lon: 0 }, stations, peers: [] }) as never
      asked.push(args)
      if (op !== 'station.list') throw new Error(`unexpected ${op}`)
      return OPS['station.list'].result.parse(answer(args as { after?: string; limit?: number })) as never
    },
  }
}

t.test('a hub from before paging answers every station at once, without next: one request', async (t) => {
  const hub = remoteHub(() => ({ stations: ['B', 'A', 'C'].map(station) }))
  const all = await listAllStations(hub as never)
  t.same(all.map((s) => s.stationId), ['B', 'A', 'C'], 'its stations, in its order')
  t.same(hub.asked, [{ limit: STATION_PAGE }])
})

t.test('pages are followed by next until a page comes without it', async (t) => {
  const ids = Array.from({ length: 2 * STATION_PAGE + 3 }, (_, i) => `S${String(i).padStart(4, '0')}`)
  const hub = remoteHub(({ after, limit = ids.length }) => {
    const rest = ids.filter((id) => after === undefined || id > after)
    const page = rest.slice(0, limit)
    return page.length < rest.length ? { stations: page.map(station), next: page.at(-1) } : { stations: page.map(station) }
  })
  const all = await listAllStations(hub as never)
  t.same(all.map((s) => s.stationId), ids)
  t.equal(hub.asked.length, 3)
})

t.test('faulty hubs fail with INTERNAL instead of repeats, gaps or no end', async (t) => {
  const cases: Array<[string, Array<{ stations: string[]; next?: string }>, RegExp]> = [
    ['a page that goes back', [{ stations: ['A', 'B', 'C'], next: 'C' }, { stations: ['B', 'C', 'D'], next: 'D' }], /station B does not sort after C/],
    ['a next that goes back', [{ stations: ['A', 'B', 'C'], next: 'A' }], /next \(A\) is not the page's last station \(C\)/],
    ['a next past the page (ids skipped)', [{ stations: ['A', 'B'], next: 'Q' }], /next \(Q\) is not the page's last station \(B\)/],
    ['a page out of order', [{ stations: ['C', 'A'], next: 'A' }], /station A does not sort after C/],
    ['a station twice in a page', [{ stations: ['A', 'A'], next: 'A' }], /station A does not sort after A/],
    ['a next with no station', [{ stations: [], next: 'B' }], /next \(B\) with no station/],
  ]
  for (const [name, pages, message] of cases) {
    let i = 0
    const hub = remoteHub(() => {
      const p = pages[Math.min(i++, pages.length - 1)] as { stations: string[]; next?: string }
      return { stations: p.stations.map(station), ...(p.next !== undefined ? { next: p.next } : {}) }
    })
    await t.rejects(listAllStations(hub as never), { code: 'INTERNAL', message }, name)
  }
  // Every page new stations, forever: stopped past twice hub.info's count and 1000 more.
  let n = 0
  const endless = remoteHub(() => {
    const ids = Array.from({ length: 100 }, () => `S${String(n++).padStart(9, '0')}`)
    return { stations: ids.map(station), next: ids.at(-1) }
  }, 500)
  await t.rejects(listAllStations(endless as never), { code: 'INTERNAL', message: /2100 stations and still paging, where hub.info counted 500/ })
  t.equal(endless.asked.length, 21)
})

t.test("a page the hub's broker refuses as too large (ANSWER_TOO_LARGE) is asked again smaller until it fits", async (t) => {
  const ids = Array.from({ length: 1000 }, (_, i) => `S${String(i).padStart(4, '0')}`)
  const MAX = 20_000
  const limits: number[] = []
  const hub = remoteHub(({ after, limit = ids.length }) => {
    limits.push(limit)
    const rest = ids.filter((id) => after === undefined || id > after)
    const page = rest.slice(0, limit)
    const bytes = JSON.stringify(page.map(station)).length
    if (bytes > MAX) throw new VoltwayError('ANSWER_TOO_LARGE', 'too large', { bytes, maxBytes: MAX })
    return page.length < rest.length ? { stations: page.map(station), next: page.at(-1) } : { stations: page.map(station) }
  })
  const all = await listAllStations(hub as never)
  t.same(all.map((s) => s.stationId), ids, 'every station, once, in order')
  t.equal(limits[0], STATION_PAGE)
  t.ok(limits.slice(1).every((l) => l < STATION_PAGE && l === limits[1]), `then one smaller size that fits: ${limits[1]}`)
  // One station over the bound: no page can help, the error is the hub's.
  const huge = remoteHub(() => {
    throw new VoltwayError('ANSWER_TOO_LARGE', 'too large', { bytes: 400, maxBytes: 300 })
  })
  await t.rejects(listAllStations(huge as never), { code: 'ANSWER_TOO_LARGE' })
  t.equal(huge.asked.at(-1) && (huge.asked.at(-1) as { limit: number }).limit, 1, 'down to one station first')
})

t.test('the page size fits a 64 KiB broker bound even for the largest station the protocol allows', async (t) => {
  const id = 'x'.repeat(64)
  const widest = OPS['station.list'].result.parse({
    stations: [{ stationId: id, hubId: id, position: { lat: -1.2345678901234567e-100, lon: -1.2345678901234567e-100 }, powerKw: 1.2345678901234567e100, priceMinorPerKwh: Number.MAX_SAFE_INTEGER, currency: 'BRL', status: 'available', online: false }],
  }).stations[0]
  const answer = JSON.stringify({ id: 'r'.repeat(128), ok: true, result: { stations: Array.from({ length: STATION_PAGE }, () => widest), next: id } })
  t.ok(answer.length <= 60_000, `${answer.length} bytes, with 5 KiB to spare for the MQTT header, topic and properties`)
})

t.test('the table lists stations as a person reads ids (FSA-2 before FSA-10); the hub order stays for --json', async (t) => {
  const listed = ['FSA-1', 'FSA-10', 'FSA-2', 'fsa-3', 'FSA-3'].map(station)
  const firstCells = renderStations(listed)
    .split('\n')
    .filter((l) => l.startsWith('│'))
    .map((l) => l.split('│')[1]?.trim())
  t.same(firstCells, ['station', 'FSA-1', 'FSA-2', 'fsa-3', 'FSA-3', 'FSA-10'])
  t.same(listed.map((s) => s.stationId), ['FSA-1', 'FSA-10', 'FSA-2', 'fsa-3', 'FSA-3'], 'the list itself is not reordered')
})
