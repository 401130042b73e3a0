import t from 'tap'
import { z } from 'zod'
import * as P from '../protocol/index.js'
import { samples } from './helpers/protocol-samples.js'

t.test('every docs/protocol.md message validates and survives a JSON round trip unchanged', async (t) => {
  for (const { name, schema, value } of samples) {
    const wire = JSON.parse(JSON.stringify(value)) as unknown
    const parsed = schema.safeParse(wire)
    t.ok(parsed.success, `${name} validates`)
    if (parsed.success) t.same(JSON.parse(JSON.stringify(parsed.data)), value, `${name} round-trips`)
  }
})

t.test('every op in docs/protocol.md has a sample for its result', async (t) => {
  for (const op of P.OP_NAMES) t.ok(samples.some((s) => s.name === `${op} result`), op)
})

t.test('every schema can be exported as JSON Schema', async (t) => {
  for (const { name, schema } of samples) {
    const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })
    t.type(js, 'object', name)
  }
})

const invalid: Array<{ name: string; schema: z.ZodType; value: unknown; path: string }> = [
  { name: 'latitude out of range', schema: P.OPS['station.nearest'].args, value: { position: { lat: 91, lon: 0 }, rangeKm: 5 }, path: 'position.lat' },
  { name: 'range must be positive', schema: P.OPS['station.nearest'].args, value: { position: { lat: 0, lon: 0 }, rangeKm: 0 }, path: 'rangeKm' },
  { name: 'time must be RFC 3339', schema: P.OPS['reservation.create'].args, value: { at: 'tomorrow', position: { lat: 0, lon: 0 }, rangeKm: 5 }, path: 'at' },
  { name: 'id pattern', schema: P.OPS['charge.stop'].args, value: { sessionId: 'a/b' }, path: 'sessionId' },
  { name: 'id too long', schema: P.OPS['charge.stop'].args, value: { sessionId: 'x'.repeat(65) }, path: 'sessionId' },
  { name: 'cancel needs an id or all', schema: P.OPS['reservation.cancel'].args, value: { all: false }, path: '' },
  { name: 'limit must be an integer', schema: P.OPS['station.nearest'].args, value: { position: { lat: 0, lon: 0 }, rangeKm: 5, limit: 2.5 }, path: 'limit' },
  { name: 'station state status enum', schema: P.StationState, value: { online: true, status: 'exploding', sessionId: null, meterWh: 1, agentVersion: 'x', ts: '2026-11-24T18:00:00Z' }, path: 'status' },
  { name: 'event seq positive', schema: P.StationEvent, value: { seq: 0, type: 'fault', code: 'X', meterWh: 1, ts: '2026-11-24T18:00:00Z' }, path: 'seq' },
  { name: 'energy is integer Wh', schema: P.Telemetry, value: { sessionId: null, powerW: 1, meterWh: 1.5, ts: '2026-11-24T18:00:00Z' }, path: 'meterWh' },
  { name: 'unknown command op', schema: P.StationCommand, value: { id: 'c', op: 'explode' }, path: 'op' },
  { name: 'hold ttl bounded', schema: P.HoldRequest, value: { txId: 't', txStartedAt: '2026-11-24T18:00:00Z', vehicleId: 'V', at: '2026-11-24T18:00:00Z', from: { lat: 0, lon: 0 }, rangeKm: 1, ttlSeconds: 0 }, path: 'ttlSeconds' },
  { name: 'currency code', schema: P.Station, value: { stationId: 'S', hubId: 'H', position: { lat: 0, lon: 0 }, powerKw: 1, priceMinorPerKwh: 1, currency: 'reais', status: 'available', online: true }, path: 'currency' },
]

t.test('invalid messages are rejected naming the field', async (t) => {
  for (const c of invalid) {
    const r = c.schema.safeParse(c.value)
    t.notOk(r.success, `${c.name} is rejected`)
    if (!r.success) t.ok(P.issuesOf(r.error).some((i) => i.path === c.path), `${c.name} names ${c.path || 'the message'}`)
  }
})

t.test('a time without its offset is refused in words a client can act on, not "Invalid ISO datetime"', async (t) => {
  const r = P.OPS['reservation.create'].args.safeParse({ at: '2026-12-01T10:00:00', position: { lat: 0, lon: 0 }, rangeKm: 10 })
  t.notOk(r.success)
  if (!r.success) t.same(P.issuesOf(r.error), [{ path: 'at', message: 'expected an RFC 3339 time with its offset, e.g. 2026-11-24T18:00:00Z or 2026-11-24T15:00:00-03:00' }])
})

t.test("an integer past its field's bound is refused with that bound, not zod's safe-integer one, in every op and hub.json field with both", async (t) => {
  const cases: Array<[string, P.OpName, Record<string, unknown>, string, string]> = [
    ['station.list limit', 'station.list', { limit: 1e308 }, 'limit', 'must be <= 1000'],
    ['station.list limit, negative', 'station.list', { limit: -1e308 }, 'limit', 'must be >= 1'],
    ['station.nearest limit', 'station.nearest', { position: { lat: 0, lon: 0 }, rangeKm: 5, limit: 2 ** 60 }, 'limit', 'must be <= 100'],
    ['trip.list limit', 'trip.list', { limit: 1e20 }, 'limit', 'must be <= 100'],
    ['route.list index', 'route.list', { destination: 'salvador', index: 1e300 }, 'index', 'must be <= 1000'],
  ]
  for (const [name, op, args, path, message] of cases) {
    const r = P.OPS[op].args.safeParse(args)
    t.notOk(r.success, name)
    if (!r.success) t.same(P.issuesOf(r.error), [{ path, message }], name)
  }
  // A field whose own bound is the safe-integer one says it once.
  const money = z.object({ price: P.MinorUnits }).safeParse({ price: 1e308 })
  if (!money.success) t.same(P.issuesOf(money.error), [{ path: 'price', message: `must be <= ${Number.MAX_SAFE_INTEGER}` }], 'said once')
  else t.fail('1e308 is no amount')
  // A field with no bound of its own keeps the safe-integer one: it is the only thing wrong.
  const plain = z.object({ n: z.number().int() }).safeParse({ n: 2 ** 60 })
  if (!plain.success) t.same(P.issuesOf(plain.error), [{ path: 'n', message: `must be <= ${Number.MAX_SAFE_INTEGER}` }])
  else t.fail('2^60 is not a safe integer')
})

t.test('a time is at most 64 characters: a fraction of a second of 60,000 digits is refused, nine digits pass', async (t) => {
  const fault = (ts: string): unknown => ({ type: 'fault', seq: 1, meterWh: 0, ts, code: 'X' })
  t.notOk(P.StationEvent.safeParse(fault(`2026-12-03T17:00:00.${'1'.repeat(60_000)}Z`)).success, 'refused')
  t.ok(P.StationEvent.safeParse(fault('2026-12-03T17:00:00.123456789+00:00')).success, 'nanoseconds and an offset pass')
})

t.test('Infinity and NaN never pass a number field', async (t) => {
  for (const bad of [Infinity, -Infinity, NaN]) {
    t.notOk(P.OPS['station.nearest'].args.safeParse({ position: { lat: 0, lon: 0 }, rangeKm: bad }).success, String(bad))
  }
})

t.test('topic builders and parsers agree for every topic', async (t) => {
  t.same(P.parseHubRequestTopic(P.topics.hubRequest('feira', 'V1')), { hubId: 'feira', vehicleId: 'V1' })
  for (const kind of P.STATION_TOPIC_KINDS) t.same(P.parseStationTopic(P.topics.station('FSA-1', kind)), { stationId: 'FSA-1', kind })
  t.same(P.parseVehicleTopic(P.topics.vehicleResponse('V1')), { vehicleId: 'V1', rest: 'res' })
  t.same(P.parseHubStateTopic(P.topics.hubState('feira')), { hubId: 'feira' })
  t.equal(P.parseHubRequestTopic('voltway/v1/hubs/feira/req/V1/extra'), null)
  t.equal(P.parseHubRequestTopic('voltway/v1/hubs/fe ira/req/V1'), null)
  t.equal(P.parseStationTopic('voltway/v1/stations/S/cmd/other'), null)
  t.equal(P.parseStationTopic('voltway/v2/stations/S/state'), null)
})

t.test('a Response Topic is honoured only inside the caller\'s own namespace', async (t) => {
  t.ok(P.isInVehicleNamespace('voltway/v1/vehicles/V1/res/abc', 'V1'))
  t.notOk(P.isInVehicleNamespace('voltway/v1/vehicles/V2/res', 'V1'))
  t.notOk(P.isInVehicleNamespace('voltway/v1/vehicles/V1', 'V1'))
  t.notOk(P.isInVehicleNamespace('voltway/v1/vehicles/V1/', 'V1'))
  t.notOk(P.isInVehicleNamespace('voltway/v1/vehicles/V1/+', 'V1'))
  t.notOk(P.isInVehicleNamespace('voltway/v1/vehicles/V1/#', 'V1'))
  t.notOk(P.isInVehicleNamespace('voltway/v1/vehicles/V10/res', 'V1'))
  t.notOk(P.isInVehicleNamespace('voltway/v1/vehicles/V1//x', 'V1'))
})

t.test('safe JSON: size cap, objects only, prototype keys refused', async (t) => {
  t.same(P.parseJsonObject('{"a":1}'), { ok: true, value: { a: 1 } })
  t.notOk(P.parseJsonObject('[1]').ok)
  t.notOk(P.parseJsonObject('nope').ok)
  t.notOk(P.parseJsonObject('null').ok)
  t.notOk(P.parseJsonObject('{"__proto__":{"x":1}}').ok)
  t.notOk(P.parseJsonObject('{"a":{"constructor":{"prototype":{}}}}').ok)
  t.notOk(P.parseJsonObject('x'.repeat(P.MAX_MESSAGE_BYTES + 1)).ok)
})

t.test('an object refused for a prototype key still yields its readable id, so its sender can be answered', async (t) => {
  t.match(P.parseJsonObject('{"__proto__":{"x":1},"id":"r1","op":"hub.info"}'), { ok: false, reason: /__proto__/, id: 'r1' })
  t.match(P.parseJsonObject('{"id":"r2","args":{"a":{"constructor":{}}}}'), { ok: false, reason: /constructor/, id: 'r2' })
  t.equal(P.parseJsonObject('{"__proto__":{"x":1}}').ok, false)
  t.equal((P.parseJsonObject('{"__proto__":{"x":1}}') as { id?: unknown }).id, undefined, 'no id, none invented')
  t.equal(({} as Record<string, unknown>).x, undefined, 'no prototype pollution')
})

t.test('a message too large or not JSON that starts with its id still yields the id, so its refusal can carry it', async (t) => {
  const big = (head: string): string => `${head}"pad":"${'x'.repeat(100)}"}`
  t.match(P.parseJsonObject(big('{"id":"r-1",'), 64), { ok: false, reason: /over the limit of 64/, id: 'r-1' }, 'too large')
  t.match(P.parseJsonObject(' \n{ "id" : "r-2", "op": NaN}'), { ok: false, reason: 'is not valid JSON', id: 'r-2' }, 'not JSON, with spaces')
  t.match(P.parseJsonObject('{"id":"a\\"b\\u00e9","op":'), { ok: false, id: 'a"b\u00e9' }, 'escapes are read as JSON reads them')
  t.equal((P.parseJsonObject(big('{"op":"x","id":"r-3",'), 64) as { id?: unknown }).id, undefined, 'an id that does not come first is not looked for')
  t.equal((P.parseJsonObject('{"id":42,"op":') as { id?: unknown }).id, undefined, 'an id that is not a string is none')
  t.equal((P.parseJsonObject(`{"id":"${'i'.repeat(2000)}",`) as { id?: unknown }).id, undefined, 'an id past the first 1 KiB is none')
  t.equal((P.parseJsonObject('{"id":"unterminated') as { id?: unknown }).id, undefined, 'an unterminated string is none')
})

t.test('a refused message reads as a sentence about it: request has a forbidden key "__proto__" (prototype keys are refused)', async (t) => {
  const reason = (text: string): string => {
    const r = P.parseJsonObject(text, 64)
    return r.ok ? 'accepted' : `request ${r.reason}`
  }
  t.equal(reason('{"__proto__":{"a":1},"id":"r1"}'), 'request has a forbidden key "__proto__" (prototype keys are refused)')
  t.equal(reason('{"a":{"constructor":1}}'), 'request has a forbidden key "constructor" (prototype keys are refused)')
  t.equal(reason('{'), 'request is not valid JSON')
  t.equal(reason('[1]'), 'request is not a JSON object')
  t.equal(reason(`"${'x'.repeat(70)}"`), 'request is 72 bytes, over the limit of 64')
})

t.test('error codes are stable and each maps to an HTTP status', async (t) => {
  for (const code of ['BAD_REQUEST', 'UNKNOWN_OP', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'NO_STATION_AVAILABLE', 'RESERVATION_CONFLICT', 'TOO_SOON', 'OUT_OF_RANGE', 'STATION_OFFLINE', 'STATION_BUSY', 'RESERVED_BY_OTHER', 'PEER_UNAVAILABLE', 'ROUTE_FAILED', 'TIMEOUT', 'INTERNAL']) {
    t.ok(P.isErrorCode(code), `${code} is a code`)
    t.type(P.HTTP_STATUS[code as P.ErrorCode], 'number')
  }
  const e = new P.VoltwayError('TOO_SOON', 'at least 120 min ahead', { minLeadMinutes: 120 })
  t.same(e.toWire(), { code: 'TOO_SOON', message: 'at least 120 min ahead', details: { minLeadMinutes: 120 } })
  t.equal(P.toVoltwayError(new Error('secret internals')).code, 'INTERNAL')
  t.equal(P.toVoltwayError(new Error('secret internals')).message, 'internal error')
})

t.test('cost is round(energyWh * priceMinorPerKwh / 1000)', async (t) => {
  t.equal(P.costMinor(11000, 73), 803)
  t.equal(P.costMinor(83, 73), 6)
  t.equal(P.costMinor(0, 73), 0)
})
