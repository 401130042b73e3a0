/** The station registry's live state, station.list, hub.info and the handler table. */
import { readdirSync } from 'node:fs'
import t from 'tap'
import { TestClock } from '../hub/clock.js'
import { opHandlers } from '../hub/ops/index.js'
import { StationRegistry } from '../hub/stations/index.js'
import { OPS, Station, type StationState } from '../protocol/index.js'
import { NOW, testHub } from './helpers/store-hub.js'

const state = (over: Partial<StationState> = {}): StationState => ({
  online: true,
  status: 'available',
  sessionId: null,
  meterWh: 1000,
  agentVersion: '0.1.0',
  ts: '2026-11-24T12:00:00Z',
  ...over,
})

function registry(): StationRegistry {
  return new StationRegistry({
    hubId: 'feira',
    currency: 'BRL',
    clock: new TestClock(NOW),
    stations: [{ stationId: 'S1', position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73 }],
  })
}

t.test('a station is offline until its first state message', async (t) => {
  const r = registry()
  t.match(r.page().stations, [{ stationId: 'S1', online: false }])
  t.equal(r.get('S1')?.live.receivedAtMs, null)
})

t.test('a state message sets online, status and the live readings', async (t) => {
  const r = registry()
  t.equal(r.applyState('S1', state({ status: 'charging', sessionId: 'sess-1', meterWh: 4200 })), true)
  t.match(r.page().stations, [{ online: true, status: 'charging' }])
  t.match(r.get('S1')?.live, { sessionId: 'sess-1', meterWh: 4200, agentVersion: '0.1.0', receivedAtMs: Date.parse(NOW) })
})

t.test('the Last Will (online: false) makes a station offline, even with an older ts', async (t) => {
  const r = registry()
  r.applyState('S1', state({ ts: '2026-11-24T12:05:00Z' }))
  r.applyState('S1', state({ online: false, ts: '2026-11-24T11:00:00Z' }))
  t.match(r.page().stations, [{ online: false }])
  r.applyState('S1', state())
  r.markOffline('S1')
  t.match(r.page().stations, [{ online: false }])
})

t.test('a state message for an unknown station changes nothing', async (t) => {
  const r = registry()
  t.equal(r.applyState('S9', state()), false)
  t.equal(r.markOffline('S9'), false)
  t.equal(r.size, 1)
  t.notOk(r.has('S9'))
})

t.test('toWire is a valid protocol Station with the hub id and currency', async (t) => {
  const r = registry()
  const s = r.get('S1')
  if (!s) throw new Error('S1')
  const wire = r.toWire(s)
  t.ok(Station.safeParse(wire).success)
  t.same(wire, { stationId: 'S1', hubId: 'feira', position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73, currency: 'BRL', status: 'available', online: false })
})

t.test('duplicate station ids are refused', async (t) => {
  const s = { stationId: 'S1', position: { lat: 0, lon: 0 }, powerKw: 1, priceMinorPerKwh: 1 }
  t.throws(() => new StationRegistry({ hubId: 'h', currency: 'BRL', stations: [s, s] }), RangeError)
})

t.test('station.list lists every configured station with its live state, in id order', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  hub.ctx.stations.applyState('MID', state({ status: 'faulted' }))
  const listed = await hub.call('station.list', {})
  t.same(listed.stations.map((s) => s.stationId), ['AWAY', 'FAR', 'MID', 'NEAR'])
  t.notOk('next' in listed, 'no next without a limit')
  t.match(listed.stations[2], { stationId: 'MID', online: true, status: 'faulted' })
})

/** A registry of `ids`, in that (config) order. */
function registryOf(ids: readonly string[]): StationRegistry {
  return new StationRegistry({ hubId: 'feira', currency: 'BRL', stations: ids.map((stationId) => ({ stationId, position: { lat: 0, lon: 0 }, powerKw: 22, priceMinorPerKwh: 73 })) })
}

/** Every page from the start, following `next`. */
function pages(r: StationRegistry, limit: number): string[][] {
  const out: string[][] = []
  let after: string | undefined
  for (;;) {
    const p = r.page(after, limit)
    out.push(p.stations.map((s) => s.stationId))
    if (p.next === undefined) return out
    if (p.next !== p.stations.at(-1)?.stationId) throw new Error(`next ${p.next} is not the page's last id`)
    after = p.next
  }
}

t.test('station.list pages: every station once, in code-unit id order, next until the last page', async (t) => {
  // Upper case sorts before lower case, digits before letters, '-' before digits and '_' between the cases.
  const ids = ['b', 'B', 'a-1', 'a_1', 'a1', 'A', 'z', '0', '_', '-', 'Z9', 'Z10']
  const r = registryOf(ids)
  const sorted = [...ids].sort()
  t.same(r.page().stations.map((s) => s.stationId), sorted, 'all, without a limit')
  for (const limit of [1, 2, 5, 11, 12, 13]) {
    const got = pages(r, limit)
    t.same(got.flat(), sorted, `limit ${limit}: each station once, in order`)
    t.ok(got.every((p) => p.length <= limit), `limit ${limit}: no page over the limit`)
    t.ok(got.slice(0, -1).every((p) => p.length === limit), `limit ${limit}: only the last page is short`)
  }
  t.same(r.page(undefined, 12), { stations: r.page().stations }, 'a limit that takes the rest gives no next')
  t.same(r.page('z').stations, [], 'after the last id: an empty page')
  t.same(r.page('zz', 3), { stations: [] }, 'an empty page has no next')
  t.same(r.page('a0', 2).stations.map((s) => s.stationId), ['a1', 'a_1'], 'after an id that does not exist: the ids after where it would sort')
  t.same(registryOf([]).page(undefined, 5), { stations: [] }, 'no stations: one empty page')
})

t.test('station.list pages follow the station set as accounts add and remove stations', async (t) => {
  const r = registryOf(['S1', 'S2', 'S3', 'S4'])
  const spec = (stationId: string) => ({ stationId, position: { lat: 0, lon: 0 }, powerKw: 22, priceMinorPerKwh: 73 })
  const first = r.page(undefined, 2)
  t.same(first.next, 'S2')
  // S2 (the cursor) goes, S0 comes before it, S5 after it.
  r.replaceSpecs(['S0', 'S1', 'S3', 'S4', 'S5'].map(spec))
  const rest = r.page(first.next, 10)
  t.same(rest.stations.map((s) => s.stationId), ['S3', 'S4', 'S5'], 'a removed cursor still pages on; stations added after it are listed')
  t.same(r.page().stations.map((s) => s.stationId), ['S0', 'S1', 'S3', 'S4', 'S5'], 'the order is rebuilt after a change')
})

t.test('station.list refuses a limit out of 1..1000 or a malformed after, as BAD_REQUEST', async (t) => {
  const args = OPS['station.list'].args
  for (const bad of [{ limit: 0 }, { limit: 1001 }, { limit: 2.5 }, { limit: '5' }, { after: '' }, { after: 'a b' }, { after: 'x'.repeat(65) }, { after: 7 }]) {
    t.notOk(args.safeParse(bad).success, `refused: ${JSON.stringify(bad)}`)
  }
  t.ok(args.safeParse({ limit: 1000, after: 'S-1' }).success)
  t.ok(args.safeParse({}).success, 'no args: every station, as before paging')
})

t.test('hub.info describes the hub, its station count and its peers', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  t.same(await hub.call('hub.info', {}), {
    hubId: 'feira',
    name: 'Feira Charging',
    city: 'Feira de Santana',
    position: { lat: -12.2664, lon: -38.9663 },
    stations: 4,
    peers: ['salvador'],
  })
})

t.test('the op table has one handler for every op of the protocol, and one file in hub/ops/ per op', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  const unused = (): never => {
    throw new Error('not called')
  }
  const services = { ...hub.ctx, charging: { start: unused, status: unused, stop: unused }, federation: { coordinator: unused as never, listRoute: unused, history: unused } }
  const table = opHandlers(services)
  t.same(Object.keys(table).sort(), Object.keys(OPS).sort())
  for (const [op, handler] of Object.entries(table)) t.type(handler, 'function', op)
  const files = readdirSync(new URL('../hub/ops/', import.meta.url)).filter((f) => !['index.ts', 'context.ts'].includes(f))
  t.same(files.map((f) => f.replace(/\.ts$/, '')).sort(), Object.keys(OPS).map((op) => op.replace('.', '-')).sort(), 'hub/ops/<op>.ts for each op')
})

t.test('TestClock moves only when told', async (t) => {
  const c = new TestClock(NOW)
  t.equal(c.now(), Date.parse(NOW))
  c.advanceMinutes(2)
  c.advanceSeconds(1)
  c.advance(1)
  t.equal(c.now(), Date.parse(NOW) + 121_001)
  c.set('2027-01-01T00:00:00Z')
  t.equal(c.now(), Date.parse('2027-01-01T00:00:00Z'))
  t.throws(() => c.set('not a time'), RangeError)
})
