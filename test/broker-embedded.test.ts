/**
 * What only the embedded aedes broker does (the shared permission suite is in
 * broker-acl-aedes.test.ts): refusals with the precise MQTT 5 codes, wills
 * checked at login, `$share` and deep topics refused without harm, identity
 * collisions refused at start, and clean shutdown.
 */
import t, { type Test } from 'tap'
import { connect as tcpConnect } from 'node:net'
import { once } from 'node:events'
import { connect as mqttConnect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { pino } from 'pino'
import { ConfigError, ID_PATTERN, TOPIC_ROOT as R, topics } from '../protocol/index.js'
import { checkIdentityCollisions, startEmbeddedBroker, type EmbeddedBroker } from '../hub/broker/index.js'
import { AccountTable } from '../hub/broker/identities.js'
import { onceWithTimeout, waitUntil } from './helpers/net.js'

const stations = [
  { stationId: 'S1', password: 's1-pass' },
  { stationId: 'S2', password: 's2-pass' },
]
const vehicles = [{ vehicleId: 'V1', password: 'v1-pass' }]

async function withBroker(t: Test, opts: { allowAnonymous?: boolean } = {}): Promise<EmbeddedBroker> {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles, ...opts })
  t.teardown(() => b.close())
  return b
}

async function client(t: Test, b: EmbeddedBroker, opts: IClientOptions): Promise<MqttClient> {
  const c = await connectAsync(b.url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
  t.teardown(() => c.endAsync(true))
  return c
}
/** The SUBACK code for one filter, whether mqtt.js reports a refusal as a grant of 0x80+ or as an error. */
async function subackCode(c: MqttClient, filter: string): Promise<number> {
  try {
    const [g] = await c.subscribeAsync(filter, { qos: 1 })
    return g?.qos ?? -1
  } catch (err) {
    // mqtt.js rejects with the SUBACK packet attached
    const e = err as { code?: number; packet?: { granted?: number[] } }
    return e.packet?.granted?.[0] ?? e.code ?? -1
  }
}

const closedPromise = (c: MqttClient): Promise<void> => new Promise((resolve) => c.once('close', () => resolve()))

/** Send at QoS 1 and wait until the broker has acked, refused or closed the connection. */
async function settle(c: MqttClient, topic: string): Promise<void> {
  await new Promise<void>((resolve) => {
    c.once('close', () => resolve())
    c.publish(topic, 'x', { qos: 1 }, () => resolve())
  })
}

const hubLogin = (b: EmbeddedBroker): IClientOptions => ({ username: b.hubCredentials.username, password: b.hubCredentials.password })

t.test('checkIdentityCollisions returns ids shared by a station and a vehicle, and a hub username equal to an id', async (t) => {
  const base = { hubId: 'H', mqtt: { listen: { host: '127.0.0.1', port: 1883 }, allowAnonymous: false } }
  t.same(checkIdentityCollisions({ ...base, stations: [{ stationId: 'S1' }], vehicles: [{ vehicleId: 'V1' }] }), [])
  t.same(checkIdentityCollisions({ ...base, stations: [{ stationId: 'X' }, { stationId: 'A' }], vehicles: [{ vehicleId: 'X' }, { vehicleId: 'A' }, { vehicleId: 'B' }] }), ['A', 'X'])
  t.same(checkIdentityCollisions({ hubId: 'H', mqtt: { url: 'mqtt://b', username: 'V1' }, stations: [], vehicles: [{ vehicleId: 'V1' }] }), ['V1'])
})

t.test('the broker refuses to start when a station and a vehicle share an id', async (t) => {
  const err: unknown = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles: [{ vehicleId: 'S1', password: 'x' }] }).catch((e: unknown) => e)
  t.ok(err instanceof ConfigError, 'a ConfigError')
  t.match(String(err), /S1/, 'naming the id')
})

t.test('listening on a busy port is a ConfigError naming mqtt.listen', async (t) => {
  const b = await withBroker(t)
  const err: unknown = await startEmbeddedBroker({ host: '127.0.0.1', port: b.port, hubId: 'H', stations, vehicles }).catch((e: unknown) => e)
  t.ok(err instanceof ConfigError, 'a ConfigError')
  t.match(String(err), /mqtt\.listen.*EADDRINUSE/, 'naming the field and the cause')
})

t.test("the hub's login is random per start and can never be a station or vehicle id", async (t) => {
  const a = await withBroker(t)
  const b = await withBroker(t)
  t.notOk(ID_PATTERN.test(a.hubCredentials.username), `${a.hubCredentials.username} is not a valid id`)
  t.not(a.hubCredentials.password, b.hubCredentials.password)
  await t.rejects(connectAsync(b.url, { ...hubLogin(a), reconnectPeriod: 0 }), "one start's password does not open another")
  await client(t, b, hubLogin(b))
})

t.test('a login whose Last Will the client may not use is refused at once; a station may will only its own state', async (t) => {
  const b = await withBroker(t)
  const login = { username: 'S1', password: 's1-pass', protocolVersion: 5 as const }
  for (const topic of [`${R}/stations/S2/state`, `${R}/stations/S1/events`, `${R}/hubs/H/req/V1`]) {
    await t.rejects(connectAsync(b.url, { ...login, reconnectPeriod: 0, will: { topic, payload: Buffer.from('x'), qos: 1, retain: false } }), `will to ${topic}: refused`)
  }
  await client(t, b, { ...login, will: { topic: `${R}/stations/S1/state`, payload: Buffer.from('{"online":false}'), qos: 1, retain: true } })
})

t.test('an unauthorized MQTT 5 publish is answered 0x87 and the connection stays up', async (t) => {
  const b = await withBroker(t)
  const v1 = await client(t, b, { username: 'V1', password: 'v1-pass', protocolVersion: 5 })
  await t.rejects(v1.publishAsync(`${R}/stations/S1/cmd`, 'x', { qos: 1 }), { code: 0x87 })
  await v1.publishAsync(`${R}/hubs/H/req/V1`, 'ok', { qos: 1 })
  t.ok(v1.connected, 'still connected')
})

t.test('an unauthorized MQTT 3.1.1 publish closes the connection (MQTT-3.3.5-2)', async (t) => {
  const b = await withBroker(t)
  const v1 = await client(t, b, { username: 'V1', password: 'v1-pass', protocolVersion: 4 })
  const closed = closedPromise(v1)
  v1.publish(`${R}/stations/S1/cmd`, 'x', { qos: 1 })
  await closed
  t.pass('closed')
})

t.test('a wildcard subscription wider than the grant is refused in the SUBACK (0x87 for MQTT 5, 0x80 for 3.1.1)', async (t) => {
  const b = await withBroker(t)
  for (const protocolVersion of [4, 5] as const) {
    const v1 = await client(t, b, { username: 'V1', password: 'v1-pass', protocolVersion })
    t.equal(await subackCode(v1, `${R}/vehicles/+/res`), protocolVersion === 5 ? 0x87 : 0x80, `MQTT ${protocolVersion}: refused`)
    t.same((await v1.subscribeAsync(`${R}/vehicles/V1/#`, { qos: 1 })).map((g) => g.qos), [1], 'its own namespace is granted')
    await v1.endAsync()
  }
})

t.test('$share subscriptions are refused gracefully (0x9E for MQTT 5, 0x80 for 3.1.1) and the connection stays up', async (t) => {
  const b = await withBroker(t)
  for (const [protocolVersion, code] of [[5, 0x9e], [4, 0x80]] as const) {
    const hub = await client(t, b, { ...hubLogin(b), protocolVersion })
    t.equal(await subackCode(hub, `$share/hubs/${R}/hubs/H/req/+`), code, `MQTT ${protocolVersion}: refused`)
    await hub.subscribeAsync(`${R}/hubs/H/req/+`, { qos: 1 })
    t.ok(hub.connected, `MQTT ${protocolVersion}: still connected`)
    await hub.endAsync()
  }
})

t.test('a topic deeper than maxTopicLevels is refused and the broker keeps serving', async (t) => {
  const b = await withBroker(t)
  const v1 = await client(t, b, { username: 'V1', password: 'v1-pass', protocolVersion: 5 })
  const got: string[] = []
  v1.on('message', (topic) => got.push(topic))
  await v1.subscribeAsync(`${R}/vehicles/V1/#`, { qos: 1 })
  const deep = `${R}/vehicles/V1/${Array.from({ length: 40 }, (_, i) => `l${i}`).join('/')}`
  for (const protocolVersion of [4, 5] as const) {
    const hub = await client(t, b, { ...hubLogin(b), protocolVersion })
    await settle(hub, deep)
    await hub.endAsync(true)
    const s1 = await client(t, b, { username: 'S1', password: 's1-pass', protocolVersion })
    const closed = closedPromise(s1)
    s1.subscribe(`${deep}/#`, { qos: 1 })
    await Promise.race([closed, subackCode(s1, `${deep}/x`)])
    await s1.endAsync(true)
  }
  const hub = await client(t, b, hubLogin(b))
  await hub.publishAsync(`${R}/vehicles/V1/res`, 'control', { qos: 1 })
  await waitUntil(() => got.includes(`${R}/vehicles/V1/res`), 5000, 'the control message')
  t.notOk(got.includes(deep), 'the deep publish was not delivered')
  t.ok(v1.connected, 'other clients are still served')
})

t.test('with allowAnonymous, anonymous clients may only read public states and cannot use a known client id', async (t) => {
  const b = await withBroker(t, { allowAnonymous: true })
  await t.rejects(connectAsync(b.url, { clientId: 'S1', reconnectPeriod: 0 }), "a station's id is refused")
  await t.rejects(connectAsync(b.url, { clientId: b.hubCredentials.username, reconnectPeriod: 0 }), "the hub's id is refused")
  const anon = await client(t, b, { protocolVersion: 5, clientId: 'dashboard-1' })
  const got: string[] = []
  anon.on('message', (_topic, payload) => got.push(payload.toString()))
  await anon.subscribeAsync(`${R}/stations/+/state`, { qos: 1 })
  t.equal(await subackCode(anon, `${R}/vehicles/+/res`), 0x87)
  await t.rejects(anon.publishAsync(`${R}/hubs/H/req/V1`, 'x', { qos: 1 }), { code: 0x87 })
  const hub = await client(t, b, hubLogin(b))
  await hub.publishAsync(`${R}/stations/S1/state`, 'public', { qos: 1 })
  await waitUntil(() => got.includes('public'), 5000, 'the state at the anonymous reader')
})

t.test('close() resolves even with a connection that never sent CONNECT', async (t) => {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles })
  const sock = tcpConnect(b.port, '127.0.0.1')
  await once(sock, 'connect')
  sock.on('error', () => undefined)
  const started = Date.now()
  await b.close()
  t.ok(Date.now() - started < 2000, 'closed promptly')
  sock.destroy()
})

t.test('what one login can make the broker keep is bounded: sessions, queued messages and how long a vehicle session outlives it', async (t) => {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles, maxSessionsPerLogin: 8, maxQueuedPerSession: 20 })
  t.teardown(() => b.close())
  const week = 7 * 24 * 3600
  // 30 persistent MQTT 5 sessions of V1, each subscribed at QoS 1 to its replies, then gone.
  for (let i = 0; i < 30; i++) {
    const c = mqttConnect(b.url, { protocolVersion: 5, clientId: `V1:s${i}`, clean: false, properties: { sessionExpiryInterval: week }, username: 'V1', password: 'v1-pass', reconnectPeriod: 0 })
    const [connack] = (await onceWithTimeout(c, 'connect')) as [{ properties?: { sessionExpiryInterval?: number } }]
    if (i === 0) t.equal(connack.properties?.sessionExpiryInterval, 3600, "a vehicle's 7-day session expiry is lowered to 1 h, and it is told so")
    await c.subscribeAsync(`${R}/vehicles/V1/res`, { qos: 1 })
    await c.endAsync()
  }
  const hub = await client(t, b, { protocolVersion: 5, ...hubLogin(b) })
  for (let i = 0; i < 200; i++) await hub.publishAsync(`${R}/vehicles/V1/res`, `reply ${i}`, { qos: 1 })
  const stats = await b.stats()
  t.equal(stats.sessionsByLogin.V1, 8, 'V1 keeps 8 sessions, not 30')
  t.equal(stats.storedSessions, 8, 'and the persistence holds no more')
  t.equal(stats.queuedMessages, 8 * 20, 'each queue stops at 20 messages, not 200')
  t.equal(stats.droppedMessages, 8 * 180)
  const old = mqttConnect(b.url, { protocolVersion: 5, clientId: 'V1:s0', clean: false, properties: { sessionExpiryInterval: 60 }, username: 'V1', password: 'v1-pass', reconnectPeriod: 0 })
  t.teardown(() => old.end(true))
  const [oldAck] = (await onceWithTimeout(old, 'connect')) as [{ sessionPresent: boolean }]
  t.equal(oldAck.sessionPresent, false, 'the oldest session was dropped for a newer one')
})

t.test('subscriptions one session may hold are bounded: new filters past the limit, too-long filters and refused filters are not kept', async (t) => {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles, maxSubscriptionsPerSession: 20 })
  t.teardown(() => b.close())
  const opts = { protocolVersion: 5 as const, clientId: 'V1:subs', clean: false, properties: { sessionExpiryInterval: 3600 }, username: 'V1', password: 'v1-pass' }
  const c = await client(t, b, opts)
  const codes: number[] = []
  for (let i = 0; i < 30; i++) codes.push(await subackCode(c, `${R}/stations/invented-${i}/state`))
  t.same(codes.slice(0, 20), Array(20).fill(1), 'the first 20 filters are granted')
  t.same(codes.slice(20), Array(10).fill(0x87), 'new filters past the limit are refused in the SUBACK')
  t.equal(await subackCode(c, `${R}/stations/invented-3/state`), 1, 'a filter the session holds may be subscribed again')
  await c.unsubscribeAsync([`${R}/stations/invented-0/state`, `${R}/stations/invented-1/state`])
  t.equal(await subackCode(c, `${R}/stations/new-1/state`), 1, 'an unsubscribe makes room')
  t.equal(await subackCode(c, `${R}/stations/new-2/state`), 1)
  t.equal(await subackCode(c, `${R}/stations/new-3/state`), 0x87)
  await c.unsubscribeAsync(`${R}/stations/new-2/state`)
  t.equal(await subackCode(c, `${R}/vehicles/V1/${'x'.repeat(2000)}`), 0x87, 'a filter over 1 KiB is refused')
  // One SUBSCRIBE with one grantable filter and many refused ones (another vehicle's topics): aedes 2 used to
  // store the whole packet for the persistent session, refused filters included.
  const refused = Array.from({ length: 500 }, (_, i) => `${R}/vehicles/V2/r${i}`)
  await c.subscribeAsync([`${R}/vehicles/V1/res`, ...refused], { qos: 1 }).catch(() => undefined)
  await c.endAsync()
  await waitUntil(async () => (await b.stats()).connectionsByLogin.V1 === undefined)
  t.equal((await b.stats()).storedSubscriptions, 20, 'the offline session keeps its 20 granted filters, nothing refused')
  const again = await client(t, b, opts)
  t.equal(await subackCode(again, `${R}/stations/new-4/state`), 0x87, 'the limit holds for the restored session too')
})

t.test('a login at its limit of live connections is refused with a clear CONNACK code; the hub is exempt', async (t) => {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles, maxSessionsPerLogin: 3 })
  t.teardown(() => b.close())
  for (let i = 0; i < 3; i++) await client(t, b, { protocolVersion: 5, clientId: `c${i}`, username: 'V1', password: 'v1-pass' })
  await t.rejects(connectAsync(b.url, { protocolVersion: 5, clientId: 'c3', username: 'V1', password: 'v1-pass', reconnectPeriod: 0 }), { code: 0x88 }, 'MQTT 5: 0x88 server unavailable')
  await t.rejects(connectAsync(b.url, { protocolVersion: 4, clientId: 'c4', username: 'V1', password: 'v1-pass', reconnectPeriod: 0 }), { code: 3 }, 'MQTT 3.1.1: 3 server unavailable')
  const again = await client(t, b, { protocolVersion: 5, clientId: 'c0', username: 'V1', password: 'v1-pass' })
  t.ok(again.connected, 'an id the login already holds still connects (it takes over its own session)')
  for (let i = 0; i < 5; i++) await client(t, b, { protocolVersion: 5, clientId: `hub-${i}`, ...hubLogin(b) })
  t.pass("the hub's own login is not limited")
})

t.test('a subscriber that stops reading its socket is cut within about a second, and the others are still served', async (t) => {
  const b = await withBroker(t)
  const frozen = tcpConnect(b.port, '127.0.0.1')
  await once(frozen, 'connect')
  frozen.on('error', () => undefined)
  frozen.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'frozen', keepalive: 0, username: 'V1', password: Buffer.from('v1-pass') }))
  frozen.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${R}/vehicles/V1/#`, qos: 0 }] }))
  // Wait for the SUBACK (0x90), then stop reading. (A paused socket does not see its own close, so the broker's count tells.)
  await new Promise<void>((resolve) => frozen.on('data', (d: Buffer) => d.includes(0x90) && resolve()))
  frozen.pause()
  const hub = await client(t, b, hubLogin(b))
  const other = await client(t, b, { username: 'V1', password: 'v1-pass', clientId: 'V1:other' })
  await other.subscribeAsync(`${R}/vehicles/V1/res`, { qos: 0 })
  t.equal((await b.stats()).connectionsByLogin.V1, 2)
  // Fill the frozen socket's buffers (kernel ones included); the broker must give up on it.
  const big = Buffer.alloc(512 * 1024, 'x')
  for (let i = 0; i < 100; i++) await hub.publishAsync(`${R}/vehicles/V1/big`, big, { qos: 0 })
  await waitUntil(async () => (await b.stats()).connectionsByLogin.V1 === 1, 5000, 'the broker to cut the frozen subscriber')
  t.pass('the frozen subscriber was cut')
  const got = onceWithTimeout(other, 'message')
  await hub.publishAsync(`${R}/vehicles/V1/res`, 'still served', { qos: 1 })
  t.equal(String((await got)[1]), 'still served')
})

t.test('retain is refused on requests, commands, their answers, acks and events; state topics may be retained', async (t) => {
  const b = await withBroker(t)
  const v1 = await client(t, b, { protocolVersion: 5, username: 'V1', password: 'v1-pass' })
  const s1 = await client(t, b, { protocolVersion: 5, username: 'S1', password: 's1-pass' })
  const hub = await client(t, b, { protocolVersion: 5, ...hubLogin(b) })
  await t.rejects(v1.publishAsync(`${R}/hubs/H/req/V1`, '{"id":"r","op":"hub.info"}', { qos: 1, retain: true }), { code: 0x87 }, 'a retained request')
  await t.rejects(s1.publishAsync(`${R}/stations/S1/events`, '{}', { qos: 1, retain: true }), { code: 0x87 }, 'a retained event')
  await t.rejects(s1.publishAsync(`${R}/stations/S1/cmd/res`, '{}', { qos: 1, retain: true }), { code: 0x87 }, 'a retained command answer')
  await t.rejects(hub.publishAsync(`${R}/stations/S1/cmd`, '{}', { qos: 1, retain: true }), { code: 0x87 }, 'a retained command, even from the hub')
  await t.rejects(hub.publishAsync(`${R}/stations/S1/ack`, '{}', { qos: 1, retain: true }), { code: 0x87 }, 'a retained ack')
  await s1.publishAsync(`${R}/stations/S1/state`, '{}', { qos: 1, retain: true })
  await v1.publishAsync(`${R}/hubs/H/req/V1`, '{"id":"r","op":"hub.info"}', { qos: 1 })
  t.pass('state may be retained, and a request without retain goes through')
  await t.rejects(connectAsync(b.url, { protocolVersion: 5, username: 'V1', password: 'v1-pass', reconnectPeriod: 0, will: { topic: `${R}/hubs/H/req/V1`, payload: Buffer.from('{}'), qos: 1, retain: true } }), 'a retained Last Will on a request topic is refused at login')
})

t.test("a vehicle's requests are paced at the broker: a flood waits in its own socket, and another vehicle's request gets through first", async (t) => {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles: [...vehicles, { vehicleId: 'V2', password: 'v2-pass' }], requestPace: { perSecond: 200, burst: 10 } })
  t.teardown(() => b.close())
  const hub = await client(t, b, hubLogin(b))
  const seen: string[] = []
  hub.on('message', (topic) => seen.push(topic))
  await hub.subscribeAsync(`${R}/hubs/H/req/+`, { qos: 1 })
  const v1 = await client(t, b, { username: 'V1', password: 'v1-pass' })
  const v2 = await client(t, b, { username: 'V2', password: 'v2-pass' })
  for (let i = 0; i < 200; i++) v1.publish(`${R}/hubs/H/req/V1`, `{"id":"f${i}","op":"hub.info"}`, { qos: 0 })
  await waitUntil(() => seen.length > 0, 5000, "the flood's first request at the hub")
  await v2.publishAsync(`${R}/hubs/H/req/V2`, '{"id":"v2","op":"hub.info"}', { qos: 1 })
  await waitUntil(() => seen.includes(`${R}/hubs/H/req/V2`), 5000, "V2's request at the hub")
  const floodBefore = seen.indexOf(`${R}/hubs/H/req/V2`)
  t.ok(floodBefore < 100, `V2's request came after ${floodBefore} of V1's 200, not after all of them`)
  await waitUntil(() => seen.length === 201, 10_000, 'the whole flood, paced')
})

t.test("a station's publishes are paced at the broker too: a flooding station waits in its own socket", async (t) => {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles, stationPace: { perSecond: 2, burst: 3 } })
  t.teardown(() => b.close())
  const hub = await client(t, b, hubLogin(b))
  const arrived: number[] = []
  hub.on('message', () => arrived.push(performance.now()))
  await hub.subscribeAsync(`${R}/stations/+/telemetry`, { qos: 0 })
  const s1 = await client(t, b, { username: 'S1', password: 's1-pass' })
  const sent = performance.now()
  for (let i = 0; i < 5; i++) s1.publish(`${R}/stations/S1/telemetry`, `{"powerW":${i}}`, { qos: 0 })
  await waitUntil(() => arrived.length === 5, 10_000, 'the five telemetry messages, paced')
  // Burst 3 at 2/s: the fourth waits one interval (500 ms) after the burst; a load can only make it later.
  t.ok((arrived[3] ?? 0) - sent >= 450, `the fourth arrived ${Math.round((arrived[3] ?? 0) - sent)} ms after the flood began, not at once`)
})

t.test('with admitAtOnce false, only the hub logs in until admit(): the others are told "server unavailable" and get in after', async (t) => {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles, admitAtOnce: false })
  t.teardown(() => b.close())
  await client(t, b, hubLogin(b))
  await t.rejects(connectAsync(b.url, { protocolVersion: 5, username: 'V1', password: 'v1-pass', reconnectPeriod: 0 }), { code: 0x88 }, 'MQTT 5: 0x88 server unavailable')
  await t.rejects(connectAsync(b.url, { protocolVersion: 4, username: 'S1', password: 's1-pass', reconnectPeriod: 0 }), { code: 3 }, 'MQTT 3.1.1: 3 server unavailable')
  b.admit()
  const v1 = await client(t, b, { protocolVersion: 5, username: 'V1', password: 'v1-pass' })
  t.ok(v1.connected, 'admitted once the hub serves requests')
})

t.test('the "embedded broker listening" line counts the logins it admits, whether from lists or from an account table', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) })
  const listening = (): Record<string, unknown> | undefined => lines.findLast((l) => l.msg === 'embedded broker listening')
  const a = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles, logger })
  t.teardown(() => a.close())
  t.match(listening(), { stations: 2, vehicles: 1 })
  // A hub passes its store's accounts as a table and no lists: the line counted the lists, so it said 0 and 0.
  const table = new AccountTable()
  table.add({ kind: 'station', id: 'S9' }, 'x')
  for (const id of ['V7', 'V8', 'V9']) table.add({ kind: 'vehicle', id }, 'x')
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations: [], vehicles: [], accounts: table, logger })
  t.teardown(() => b.close())
  t.match(listening(), { stations: 1, vehicles: 3 })
})

t.test('a subscriber whose socket does not drain is disconnected, and the hub logs who and why at warn', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) })
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations, vehicles, logger, drainTimeoutMs: 200 })
  t.teardown(() => b.close())
  const slow = await connectAsync(b.url, { protocolVersion: 5, clientId: 'V1-slow', username: 'V1', password: 'v1-pass', reconnectPeriod: 0 })
  slow.on('error', () => undefined)
  await slow.subscribeAsync(topics.vehicleResponse('V1'), { qos: 0 })
  // It stops reading: what the hub sends it piles up in the kernel's buffers, then in the broker's socket.
  ;(slow.stream as unknown as { pause(): void }).pause()
  const closed = new Promise<void>((resolve) => slow.once('close', () => resolve()))
  const payload = 'x'.repeat(60 * 1024)
  for (let i = 0; i < 2000 && !lines.some((l) => l.level === 40); i++) {
    // Several at once: many writes wait for the drain when it times out, each failing with it.
    for (let j = 0; j < 20; j++) void b.requests.publish(topics.vehicleResponse('V1'), payload, { qos: 0, messageExpiryInterval: 60 })
    await b.requests.publish(topics.vehicleResponse('V1'), payload, { qos: 0, messageExpiryInterval: 60 })
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20))
  }
  await waitUntil(() => lines.some((l) => l.level === 40), 10_000)
  const warn = lines.find((l) => l.level === 40)
  t.match(warn, { clientId: 'V1-slow', drainTimeoutMs: 200, msg: /^disconnected a subscriber whose socket did not drain within 200 ms \(a slow or stalled reader\); it may connect again$/ })
  ;(slow.stream as unknown as { resume(): void }).resume()
  await closed
  await new Promise((r) => setTimeout(r, 300))
  const warns = lines.filter((l) => l.level === 40)
  t.equal(warns.length, 1, `one warn line for one disconnect (got ${warns.length})`)
  const other = await connectAsync(b.url, { protocolVersion: 5, clientId: 'V1-ok', username: 'V1', password: 'v1-pass' })
  t.ok(other.connected, 'the broker still takes connections')
  await other.endAsync()
  slow.end(true)
})
