/**
 * `voltway vehicle stations` pages through `station.list` (listAllStations) against hubs that answer
 * differently from ours: one from before paging (every station at once, no `next`) and a faulty one whose
 * `next` stands still. Our own hub's pages, on a real broker, are in test/hub-mqtt-packet-limit.test.ts.
 */
import t from 'tap'
import { OPS, type OpName, type Station } from '../protocol/index.js'
import { listAllStations, STATION_PAGE } from '../vehicle-sim/commands/stations.js'

const station = (stationId: string): Station => ({ stationId, hubId: 'other', position: { lat: 0, lon: 0 }, powerKw: 22, priceMinorPerKwh: 73, currency: 'BRL', status: 'available', online: true })

/** A remote hub answering `station.list` with `answer(args)`, its answers checked against the protocol's result schema. */
function remoteHub(answer: (args: { after?: string; limit?: number }) => unknown): { asked: unknown[]; request: (op: OpName, args: unknown) => Promise<never> } {
  const asked: unknown[] = []
  return {
    asked,
    request: async (op, args) => {
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

t.test('a faulty hub whose next does not move forward fails with INTERNAL instead of looping', async (t) => {
  const hub = remoteHub(() => ({ stations: [station('A')], next: 'A' }))
  await t.rejects(listAllStations(hub as never), { code: 'INTERNAL', message: /next \(A\) does not follow its after \(A\)/ })
  t.equal(hub.asked.length, 2, 'the second page gave it away')
})
