/**
 * 10,000 malformed or hostile requests: every one gets a coded error, none
 * changes state, and the hub keeps serving.
 */
import t from 'tap'
import prand from 'pure-rand'
import { request } from 'undici'
import { TestClock } from '../hub/clock.js'
import { ERROR_CODES, OPS, formatTime, isOpName, topics } from '../protocol/index.js'
import { connectVehicle, startTestHub } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'

const T0 = '2026-11-24T12:00:00Z'
const later = formatTime(Date.parse(T0) + 5 * 3600_000)
const pos = { lat: -12.25, lon: -38.95 }

/** Valid args per op; each fuzz case breaks exactly one field so it cannot validate. */
const templates: Record<string, Record<string, unknown>> = {
  'station.nearest': { position: pos, rangeKm: 10, at: later, limit: 3 },
  'reservation.create': { at: later, position: pos, rangeKm: 10, stationId: 'FSA-1' },
  'reservation.cancel': { reservationId: 'r-1' },
  'charge.start': { stationId: 'FSA-1', maxWh: 1000 },
  'charge.status': { sessionId: 's-1' },
  'route.list': { destination: 'salvador', index: 0 },
  'route.reserve': { routeId: 'x', times: [later], position: pos, rangeKm: 10 },
}

const badValues: unknown[] = [null, true, 'x'.repeat(70), -1, Infinity, -Infinity, NaN, 'NaN', [], {}, [1, 2], { $gt: '' }, '../../etc', 'a/b', '+', '#', '\u0000', 2 ** 60, 0.5]

function fuzzCase(rng: prand.RandomGenerator): { body: string; expectId: string | null } {
  const pick = <T>(arr: readonly T[]): T => arr[prand.unsafeUniformIntDistribution(0, arr.length - 1, rng)] as T
  const id = `f-${prand.unsafeUniformIntDistribution(0, 1e9, rng)}`
  const kind = prand.unsafeUniformIntDistribution(0, 9, rng)
  switch (kind) {
    case 0: {
      // not JSON at all; one that starts with its id is still answered with it (protocol/json.ts)
      const [body, expectId] = pick([['{', null], ['}{', null], ['null', null], ['[]', null], ['"str"', null], ['42', null], ['{"id":', null], ['\u00ff\u00fe', null], ['{"id":"x","op":NaN}', 'x'], ['{"id":"x","args":Infinity}', 'x'], ['{"op":"hub.info","id":"x",', null], ['{"id":"x\\u0000","op":', null]] as const)
      return { body, expectId }
    }
    case 1: // unknown op
      return { body: JSON.stringify({ id, op: pick(['nope', 'hub.info2', '__proto__', 'constructor', 'station.List', '', 'x'.repeat(100)]), args: {} }), expectId: id }
    case 8: // numbers that parse to Infinity, written as JSON text
      return { body: `{"id":"${id}","op":"station.nearest","args":{"position":{"lat":1e999,"lon":0},"rangeKm":-1e999}}`, expectId: id }
    case 2: // prototype keys anywhere
      return { body: `{"id":"${id}","op":"station.nearest","args":{"__proto__":{"admin":true},"position":{"lat":1,"lon":1},"rangeKm":1}}`, expectId: id }
    case 3: {
      // huge payload: answered with its id when the id comes first, as clients write it
      const pad = 'x'.repeat(70_000 + prand.unsafeUniformIntDistribution(0, 1000, rng))
      return prand.unsafeUniformIntDistribution(0, 1, rng) === 0
        ? { body: JSON.stringify({ id, op: 'station.list', args: { pad } }), expectId: id }
        : { body: JSON.stringify({ op: 'station.list', args: { pad }, id }), expectId: null }
    }
    case 4: // bad id types
      return { body: JSON.stringify({ id: pick([42, null, true, {}, [], 'x'.repeat(200), '']), op: 'hub.info', args: {} }), expectId: null }
    case 5: // args not an object
      return { body: JSON.stringify({ id, op: pick(Object.keys(templates)), args: pick([1, 'a', [1], true]) }), expectId: id }
    default: {
      // one field of a valid request replaced by a hostile value (Infinity and NaN serialise as null)
      const op = pick(Object.keys(templates))
      const args = structuredClone(templates[op]) as Record<string, unknown>
      const field = pick(Object.keys(args))
      const nested = field === 'position' && prand.unsafeUniformIntDistribution(0, 1, rng) === 1
      if (nested) (args.position as Record<string, unknown>)[pick(['lat', 'lon'])] = pick([91, -181, '1', null, Infinity])
      else args[field] = pick(badValues)
      const body = JSON.stringify({ id, op, args })
      // Some hostile values happen to be valid for some fields (0.5 km is a range): only invalid requests count here.
      if (isOpName(op) && OPS[op].args.safeParse(JSON.parse(body).args).success) return fuzzCase(rng)
      return { body, expectId: id }
    }
  }
}

t.test('10,000 malformed or hostile requests get coded errors, change no state, and never crash the hub', async (t) => {
  const clock = new TestClock(T0)
  const hub = await startTestHub(undefined, { clock })
  t.teardown(() => hub.close())
  const v = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v.close())
  const before = await v.rpc.request('reservation.create', { at: later, position: pos, rangeKm: 10, stationId: 'FSA-2' })
  const snapshot = async (): Promise<unknown> => ({
    mine: await v.rpc.request('reservation.list', {}),
    stations: await v.rpc.request('station.list', {}),
    counts: await hub.context.store.reservations.counts(clock.now()),
  })
  const stateBefore = await snapshot()

  const replies: Array<{ id: unknown; ok: unknown; error?: { code?: unknown } }> = []
  await v.client.subscribeAsync(topics.vehicleResponse('V1'), { qos: 1 })
  v.client.on('message', (topic, payload) => {
    if (topic === topics.vehicleResponse('V1')) replies.push(JSON.parse(payload.toString()) as (typeof replies)[number])
  })
  const rng = prand.xoroshiro128plus(20261125)
  const N = 10_000
  const expected: Array<string | null> = []
  for (let i = 0; i < N; i++) {
    const c = fuzzCase(rng)
    expected.push(c.expectId)
    // The raw client publishes without a Response Topic, so answers come on the default topic.
    v.client.publish(topics.hubRequest('feira', 'V1'), c.body, { qos: 1 })
    if (i % 500 === 499) await waitUntil(() => replies.length >= i + 1 - 200, 20_000, `replies to the first ${i - 199} requests`)
  }
  await waitUntil(() => replies.length >= N, 30_000, `${N} replies (have ${replies.length})`)
  t.equal(replies.length, N, 'every request was answered exactly once')
  const codes = new Set<string>(ERROR_CODES)
  const bad = replies.filter((r) => r.ok !== false || typeof r.error?.code !== 'string' || !codes.has(r.error.code))
  t.same(bad.slice(0, 5), [], 'every answer is a coded error')
  const byCode = new Map<string, number>()
  for (const r of replies) byCode.set(String(r.error?.code), (byCode.get(String(r.error?.code)) ?? 0) + 1)
  t.comment(`answers by code: ${JSON.stringify(Object.fromEntries(byCode))}`)
  t.ok((byCode.get('BAD_REQUEST') ?? 0) > 0 && (byCode.get('UNKNOWN_OP') ?? 0) > 0, 'both BAD_REQUEST and UNKNOWN_OP were exercised')
  t.equal(replies.filter((r) => r.id === null).length, expected.filter((e) => e === null).length, 'unreadable requests are answered with id null')

  t.same(await snapshot(), stateBefore, 'no state changed')
  const health = await request(`${hub.httpUrl}/healthz`)
  t.equal(health.statusCode, 200, 'the hub is still healthy')
  await health.body.dump()
  t.equal((await v.rpc.request('reservation.list', {})).reservations[0]?.reservationId, before.reservation.reservationId, 'and still serves valid requests')
})
