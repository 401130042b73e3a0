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
  t.match(r.list(), [{ stationId: 'S1', online: false }])
  t.equal(r.get('S1')?.live.receivedAtMs, null)
})

t.test('a state message sets online, status and the live readings', async (t) => {
  const r = registry()
  t.equal(r.applyState('S1', state({ status: 'charging', sessionId: 'sess-1', meterWh: 4200 })), true)
  t.match(r.list(), [{ online: true, status: 'charging' }])
  t.match(r.get('S1')?.live, { sessionId: 'sess-1', meterWh: 4200, agentVersion: '0.1.0', receivedAtMs: Date.parse(NOW) })
})

t.test('the Last Will (online: false) makes a station offline, even with an older ts', async (t) => {
  const r = registry()
  r.applyState('S1', state({ ts: '2026-11-24T12:05:00Z' }))
  r.applyState('S1', state({ online: false, ts: '2026-11-24T11:00:00Z' }))
  t.match(r.list(), [{ online: false }])
  r.applyState('S1', state())
  r.markOffline('S1')
  t.match(r.list(), [{ online: false }])
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

t.test('station.list lists every configured station with its live state', async (t) => {
  const hub = await testHub()
  t.teardown(() => hub.dispose())
  hub.ctx.stations.applyState('MID', state({ status: 'faulted' }))
  const { stations } = await hub.call('station.list', {})
  t.same(stations.map((s) => s.stationId), ['NEAR', 'MID', 'FAR', 'AWAY'])
  t.match(stations[1], { stationId: 'MID', online: true, status: 'faulted' })
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
