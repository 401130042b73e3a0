/** The dashboard's live feed and data rules, without a browser. */
import t, { type Test } from 'tap'
import { pino } from 'pino'
import { TestClock } from '../hub/clock.js'
import { StationRegistry } from '../hub/stations/index.js'
import { MemoryStore } from '../hub/store/index.js'
import { toCsv } from '../hub/ui/csv.js'
import { BookingsWatch } from '../hub/ui/live/bookings.js'
import { LiveFeed, type FeedPatch } from '../hub/ui/live/feed.js'
import { Journal } from '../hub/ui/live/journal.js'
import { PowerLog } from '../hub/ui/live/power-log.js'
import { StationViews } from '../hub/ui/live/station-views.js'
import { PeerHealth } from '../hub/ui/peer-health.js'
import { waitUntil } from './helpers/net.js'

function feedFor(t: Test) {
  const clock = new TestClock()
  const store = new MemoryStore()
  const stations = new StationRegistry({ hubId: 'h', currency: 'BRL', clock, stations: ['A', 'B', 'C'].map((id, i) => ({ stationId: id, position: { lat: -12 - i, lon: -38 }, powerKw: 22, priceMinorPerKwh: 80 })) })
  const power = new PowerLog()
  const journal = new Journal()
  const bookings = new BookingsWatch({ store, stations, clock, windowMs: 7_200_000 })
  const feed = new LiveFeed({ views: new StationViews(stations, store, power), journal, power, bookings, now: () => clock.now(), logger: pino({ level: 'silent' }), tickMs: 20 })
  t.teardown(() => feed.close())
  return { clock, store, stations, power, journal, feed }
}

t.test('a subscriber gets a snapshot of every station, then only the rows that changed', async (t) => {
  const { stations, feed } = feedFor(t)
  const got: Array<{ event: string; data?: FeedPatch }> = []
  await feed.subscribe((event, data) => got.push({ event, data }))
  t.equal(got[0]?.event, 'snapshot')
  t.equal(got[0]?.data?.stations.length, 3)
  stations.applyState('B', { online: true, status: 'faulted', sessionId: null, meterWh: 0, agentVersion: 'x', ts: '2026-11-24T12:00:00Z' })
  const patch = await waitUntil(() => got.find((g) => g.event === 'patch'), 2000, 'a patch')
  t.same(patch.data?.stations.map((s) => [s.id, s.status]), [['B', 'faulted']])
})

t.test('telemetry bursts are coalesced: one power sample per session per patch', async (t) => {
  const { power, feed, stations } = feedFor(t)
  stations.applyState('A', { online: true, status: 'charging', sessionId: 's1', meterWh: 0, agentVersion: 'x', ts: '2026-11-24T12:00:00Z' })
  const patches: FeedPatch[] = []
  await feed.subscribe((event, data) => event === 'patch' && data && patches.push(data))
  for (let i = 1; i <= 50; i++) power.record('A', 's1', { t: i, powerW: i * 100, meterWh: i })
  const p = await waitUntil(() => patches.find((x) => x.power.length > 0), 2000, 'a power patch')
  t.same(p.power.map((x) => [x.sessionId, x.powerW]), [['s1', 5000]], 'only the latest sample')
  t.equal(power.history('s1').length, 50, 'the history keeps every sample for the chart')
})

t.test('the feed stops ticking when the last subscriber leaves, and closing ends every subscription', async (t) => {
  const { feed } = feedFor(t)
  const events: string[] = []
  const off = await feed.subscribe((e) => events.push(e))
  await feed.subscribe((e) => events.push(`2:${e}`))
  off()
  t.equal(feed.subscribers, 1)
  feed.close()
  t.ok(events.includes('2:close'), 'the remaining subscriber is told')
  t.equal(feed.subscribers, 0)
})

t.test('a new reservation raises the bookings version and the station shows its next booking', async (t) => {
  const { feed, store, clock } = feedFor(t)
  const patches: FeedPatch[] = []
  await feed.subscribe((event, data) => event === 'patch' && data && patches.push(data))
  const at = clock.now() + 3 * 3600_000
  await store.reservations.createReservation({ reservationId: 'r1', vehicleId: 'V1', atMs: at, candidates: [{ stationId: 'C', position: { lat: -14, lon: -38 } }], windowMs: 7_200_000, nowMs: clock.now() })
  const p = await waitUntil(() => patches.find((x) => x.stations.some((s) => s.id === 'C' && s.nextBookingAtMs === at)), 3000, 'the booking')
  t.ok(p.bookingsVersion > 0)
})

t.test('the journal is bounded', async (t) => {
  const j = new Journal({ max: 10 })
  for (let i = 0; i < 25; i++) j.add({ atMs: i, stationId: 'A', kind: 'fault', text: `f${i}` })
  t.ok(j.recent(null, 100).length <= 10)
  t.equal(j.since(20).length, 5, 'what is new since a seq is still there')
})

t.test('CSV export quotes separators and defuses spreadsheet formulas', async (t) => {
  t.equal(toCsv(['a', 'b'], [['x,y', '=1+2'], ['say "hi"', 3]]), 'a,b\r\n"x,y",\'=1+2\r\n"say ""hi""",3\r\n')
})

t.test('peer health counts calls, errors and token refusals per configured peer only', async (t) => {
  const h = new PeerHealth(['salvador'])
  h.onFederationResponse('salvador', 200, 3.14, 1000)
  h.onFederationResponse('salvador', 503, 10, 2000)
  h.onFederationResponse(undefined, 401, 1, 3000)
  h.onFederationResponse('stranger', 200, 1, 4000)
  const s = h.snapshot()
  t.same(s.peers, [{ hubId: 'salvador', calls: 2, errors: 1, lastCallAtMs: 2000, lastLatencyMs: 10, lastStatus: 503, outbound: { calls: 0, errors: 0, tokenRefusals: 0, lastCallAtMs: null, lastLatencyMs: null, lastStatus: null } }])
  t.equal(s.tokenRefusals, 1)
})
