/** The permission table as data, and the topic-filter logic both brokers' rules come from. */
import t from 'tap'
import { filterWithin, isValidFilter, topicMatchesFilter } from '../hub/broker/topic-filter.js'
import { canPublish, canRead, canSubscribe, canWill, compileRules } from '../hub/broker/permissions.js'

const within = (sub: string, allowed: string): boolean => filterWithin(sub.split('/'), allowed.split('/'))

t.test('topic matching follows MQTT 4.7 wildcards', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['a/b/c', 'a/b/c', true],
    ['a/b/c', 'a/+/c', true],
    ['a/b/c', 'a/#', true],
    ['a', 'a/#', true], // `#` includes the parent level
    ['a/b', 'a/+', true],
    ['a/b/c', 'a/+', false],
    ['a', 'a/+', false],
    ['a/b', 'a/b/c', false],
    ['$SYS/x', '#', false], // wildcards at the first level never match `$` topics
    ['$SYS/x', '+/x', false],
    ['$SYS/x', '$SYS/#', true],
    ['a//b', 'a/+/b', true],
  ]
  for (const [topic, filter, expected] of cases) t.equal(topicMatchesFilter(topic, filter), expected, `${topic} vs ${filter}`)
})

t.test('a subscription is within a grant only when it cannot match anything outside it', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['v/vehicles/V1/res', 'v/vehicles/V1/#', true],
    ['v/vehicles/V1/#', 'v/vehicles/V1/#', true],
    ['v/vehicles/V1', 'v/vehicles/V1/#', true],
    ['v/vehicles/V1/+/x', 'v/vehicles/V1/#', true],
    ['v/vehicles/+/res', 'v/vehicles/V1/#', false],
    ['v/vehicles/#', 'v/vehicles/V1/#', false],
    ['v/#', 'v/vehicles/V1/#', false],
    ['#', 'v/vehicles/V1/#', false],
    ['v/stations/+/state', 'v/stations/+/state', true],
    ['v/stations/S1/state', 'v/stations/+/state', true],
    ['v/stations/+/+', 'v/stations/+/state', false],
    ['v/stations/+/state/x', 'v/stations/+/state', false],
    ['v/stations/#', 'v/stations/+/state', false],
    ['$share/g/v/x', '#', false],
  ]
  for (const [sub, allowed, expected] of cases) t.equal(within(sub, allowed), expected, `${sub} within ${allowed}`)
})

t.test('filter syntax', async (t) => {
  for (const f of ['a/#', '#', '+', 'a/+/b', 'a/b']) t.ok(isValidFilter(f), f)
  for (const f of ['', 'a/#/b', 'a/b#', 'a+/b', 'a/\u0000']) t.notOk(isValidFilter(f), JSON.stringify(f))
})

t.test('vehicle V1: publishes only its own requests, reads its own namespace and the public states', async (t) => {
  const r = compileRules({ kind: 'vehicle', id: 'V1' })
  t.ok(canPublish(r, 'voltway/v1/hubs/H/req/V1'))
  t.ok(canPublish(r, 'voltway/v1/hubs/OTHER/req/V1'))
  for (const topic of ['voltway/v1/hubs/H/req/V2', 'voltway/v1/hubs/H/req/V1/x', 'voltway/v1/stations/V1/state', 'voltway/v1/stations/S1/cmd', 'voltway/v1/vehicles/V1/res', 'voltway/v1/hubs/H/state']) {
    t.notOk(canPublish(r, topic), `not ${topic}`)
  }
  for (const f of ['voltway/v1/vehicles/V1/#', 'voltway/v1/vehicles/V1/res', 'voltway/v1/stations/+/state', 'voltway/v1/stations/S1/state', 'voltway/v1/hubs/+/state']) t.ok(canSubscribe(r, f), f)
  for (const f of ['voltway/v1/vehicles/V2/res', 'voltway/v1/vehicles/+/res', 'voltway/v1/#', '#', 'voltway/v1/stations/S1/cmd', 'voltway/v1/stations/+/+', '$SYS/#']) t.notOk(canSubscribe(r, f), `not ${f}`)
  t.ok(canRead(r, 'voltway/v1/vehicles/V1/res/r-17'))
  t.notOk(canRead(r, 'voltway/v1/vehicles/V2/res'))
  t.notOk(canWill(r, 'voltway/v1/stations/S1/state'))
})

t.test("station S1: publishes its five topics (card auth too), reads its commands, acks, card answers and the hubs' state, wills only its state", async (t) => {
  const r = compileRules({ kind: 'station', id: 'S1' })
  for (const k of ['state', 'telemetry', 'events', 'cmd/res', 'auth']) t.ok(canPublish(r, `voltway/v1/stations/S1/${k}`), k)
  for (const topic of ['voltway/v1/stations/S1/cmd', 'voltway/v1/stations/S1/ack', 'voltway/v1/stations/S1/auth/res', 'voltway/v1/stations/S2/auth', 'voltway/v1/stations/S2/state', 'voltway/v1/hubs/H/req/S1', 'voltway/v1/stations/S1/state/x']) {
    t.notOk(canPublish(r, topic), `not ${topic}`)
  }
  t.ok(canSubscribe(r, 'voltway/v1/stations/S1/cmd'))
  t.ok(canSubscribe(r, 'voltway/v1/stations/S1/ack'))
  t.ok(canSubscribe(r, 'voltway/v1/hubs/+/state'))
  t.ok(canSubscribe(r, 'voltway/v1/stations/S1/auth/res'))
  t.notOk(canSubscribe(r, 'voltway/v1/hubs/+/req/+'))
  for (const f of ['voltway/v1/stations/S1/#', 'voltway/v1/stations/+/cmd', 'voltway/v1/stations/+/state', 'voltway/v1/stations/S1/cmd/res', 'voltway/v1/stations/S2/auth/res', 'voltway/v1/stations/S1/auth']) t.notOk(canSubscribe(r, f), `not ${f}`)
  t.ok(canWill(r, 'voltway/v1/stations/S1/state'))
  t.notOk(canWill(r, 'voltway/v1/stations/S1/events'), 'a will cannot fake an event')
  t.notOk(canWill(r, 'voltway/v1/stations/S2/state'))
})

t.test('hub: everything under voltway/v1, nothing outside', async (t) => {
  const r = compileRules({ kind: 'hub', id: 'hub.H' })
  t.ok(canPublish(r, 'voltway/v1/stations/S1/cmd'))
  t.ok(canSubscribe(r, 'voltway/v1/#'))
  t.ok(canSubscribe(r, 'voltway/v1/hubs/H/req/+'))
  t.notOk(canPublish(r, '$SYS/x'))
  t.notOk(canSubscribe(r, '#'))
  t.notOk(canSubscribe(r, '$share/hubs/voltway/v1/hubs/H/req/+'))
})

t.test('anonymous (only when allowed): reads public states, publishes nothing', async (t) => {
  const r = compileRules({ kind: 'anonymous', id: '' })
  t.ok(canSubscribe(r, 'voltway/v1/stations/+/state'))
  t.notOk(canSubscribe(r, 'voltway/v1/vehicles/+/res'))
  t.notOk(canPublish(r, 'voltway/v1/hubs/H/req/'))
})
