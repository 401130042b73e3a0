/** The assembled hub: health, metrics, station state, federation tokens, restart. */
import t from 'tap'
import { connectAsync } from 'mqtt'
import { request } from 'undici'
import { TestClock } from '../hub/clock.js'
import { formatTime, topics } from '../protocol/index.js'
import { connectVehicle, hubConfig, startTestHub } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'

const T0 = '2026-11-24T12:00:00Z'
const inHours = (h: number): string => formatTime(Date.parse(T0) + h * 3600_000)

t.test('GET /healthz answers 200 once broker, database and HTTP are up', async (t) => {
  const hub = await startTestHub()
  t.teardown(() => hub.close())
  const res = await request(`${hub.httpUrl}/healthz`)
  t.equal(res.statusCode, 200)
  t.same(await res.body.json(), { ok: true, replica: 'main', broker: true, database: true, http: true, ready: true }, 'a hub not started as a replica is the replica main')
})

t.test('GET /metrics has requests by op and outcome, latency, stations online and reservations', async (t) => {
  const hub = await startTestHub(hubConfig(), { clock: new TestClock(T0) })
  t.teardown(() => hub.close())
  const v = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v.close())
  await v.rpc.request('station.list', {})
  await t.rejects(v.rpc.request('reservation.create', { at: inHours(1), position: { lat: -12.25, lon: -38.95 }, rangeKm: 10 }), { code: 'TOO_SOON' })
  await v.rpc.request('reservation.create', { at: inHours(3), position: { lat: -12.25, lon: -38.95 }, rangeKm: 10 })
  const res = await request(`${hub.httpUrl}/metrics`)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/plain/)
  const text = await res.body.text()
  t.match(text, /voltway_requests_total\{[^}]*op="station\.list"[^}]*outcome="ok"[^}]*\} 1/)
  t.match(text, /voltway_requests_total\{[^}]*op="reservation\.create"[^}]*outcome="TOO_SOON"[^}]*\} 1/)
  t.match(text, /voltway_request_duration_seconds_bucket\{/)
  t.match(text, /voltway_stations_online\{hub="feira"\} 0/)
  t.match(text, /voltway_reservations\{hub="feira"\} 1/)
})

t.test("station online/offline follows its retained state and its Last Will", async (t) => {
  const hub = await startTestHub()
  t.teardown(() => hub.close())
  const v = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v.close())
  const offline = JSON.stringify({ online: false, status: 'available', sessionId: null, meterWh: null, agentVersion: 'test', ts: T0 })
  const station = await connectAsync(hub.mqttUrl, {
    clientId: 'FSA-1',
    username: 'FSA-1',
    password: 's3cret-1',
    reconnectPeriod: 0,
    will: { topic: topics.station('FSA-1', 'state'), payload: Buffer.from(offline), qos: 1, retain: true },
  })
  await station.publishAsync(topics.station('FSA-1', 'state'), JSON.stringify({ online: true, status: 'available', sessionId: null, meterWh: 100, agentVersion: 'test', ts: T0 }), { qos: 1, retain: true })
  const onlineOf = async (): Promise<boolean | undefined> => (await v.rpc.request('station.list', {})).stations.find((s) => s.stationId === 'FSA-1')?.online
  await waitUntil(async () => (await onlineOf()) === true, 5000, 'FSA-1 online')
  // Garbage on the state topic changes nothing.
  await station.publishAsync(topics.station('FSA-1', 'state'), '{"online": "yes"}', { qos: 1 })
  await station.publishAsync(topics.station('FSA-1', 'state'), 'not json', { qos: 1 })
  t.equal(await onlineOf(), true, 'invalid state messages are ignored')
  // Abrupt loss of the connection: the broker publishes the Will.
  station.stream.destroy()
  await waitUntil(async () => (await onlineOf()) === false, 5000, 'FSA-1 offline after its will')
  t.pass('the Last Will took the station offline')
  await station.endAsync(true)
})

t.test('federation routes need a known bearer token: missing or wrong get 401', async (t) => {
  const cfg = hubConfig({ federation: { peers: [{ hubId: 'salvador', url: 'http://127.0.0.1:9', token: 'to-salvador', acceptToken: 'from-salvador' }], links: [] } })
  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  const none = await request(`${hub.httpUrl}/federation/v1/hub`)
  t.equal(none.statusCode, 401)
  t.match(await none.body.json(), { error: { code: 'UNAUTHORIZED' } })
  const wrong = await request(`${hub.httpUrl}/federation/v1/hub`, { headers: { authorization: 'Bearer to-salvador' } })
  t.equal(wrong.statusCode, 401, 'our own outgoing token is not accepted')
  await wrong.body.dump()
  const notBearer = await request(`${hub.httpUrl}/federation/v1/hub`, { headers: { authorization: 'Basic from-salvador' } })
  t.equal(notBearer.statusCode, 401)
  await notBearer.body.dump()
  const right = await request(`${hub.httpUrl}/federation/v1/hub`, { headers: { authorization: 'Bearer from-salvador' } })
  t.not(right.statusCode, 401, 'the peer\'s token passes')
  await right.body.dump()
  const health = await request(`${hub.httpUrl}/healthz`)
  t.equal(health.statusCode, 200, '/healthz needs no token')
  await health.body.dump()
})

t.test('a restart keeps every reservation', async (t) => {
  const cfg = hubConfig()
  const clock = new TestClock(T0)
  const hub1 = await startTestHub(cfg, { clock })
  const v1 = await connectVehicle(hub1.mqttUrl, 'feira', 'V1', 'v1-pass')
  const made = await Promise.all([
    v1.rpc.request('reservation.create', { at: inHours(3), position: { lat: -12.25, lon: -38.95 }, rangeKm: 10, stationId: 'FSA-1' }),
    v1.rpc.request('reservation.create', { at: inHours(6), position: { lat: -12.25, lon: -38.95 }, rangeKm: 10, stationId: 'FSA-1' }),
  ])
  await v1.close()
  await hub1.close()
  const hub2 = await startTestHub(cfg, { clock })
  t.teardown(() => hub2.close())
  const v2 = await connectVehicle(hub2.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v2.close())
  const { reservations } = await v2.rpc.request('reservation.list', {})
  t.same(
    reservations.map((r) => r.reservationId).sort(),
    made.map((m) => m.reservation.reservationId).sort(),
  )
  await t.rejects(v2.rpc.request('reservation.create', { at: inHours(4), position: { lat: -12.25, lon: -38.95 }, rangeKm: 10, stationId: 'FSA-1' }), { code: 'RESERVATION_CONFLICT' }, 'and they still block their window')
})
