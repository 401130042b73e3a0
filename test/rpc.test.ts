/**
 * The MQTT request/response helper against real brokers: an in-process aedes
 * (the server on its own MQTT connection, and the server inside the broker as
 * the hub runs on its embedded broker: hub/broker/in-process-requests.ts),
 * and a Mosquitto process started on a free port when the binary exists.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { connectAsync, type MqttClient } from 'mqtt'
import type { Aedes } from 'aedes'
import { createRpcClient, createRpcServer, type HandlerTable, type RpcServer, type RpcServerSource, VoltwayError, topics, formatTime } from '../protocol/index.js'
import { inProcessRequests } from '../hub/broker/in-process-requests.js'
import { startAedes } from './helpers/aedes.js'
import { mosquittoTools, startMosquitto } from './helpers/mosquitto.js'
import { onceWithTimeout, waitUntil } from './helpers/net.js'

const HUB = 'hubA'

let openGate: () => void = () => undefined
let gate = Promise.resolve()
let releaseHang: () => void = () => undefined
let hang = Promise.resolve()
const newHang = (): void => {
  hang = new Promise<void>((r) => (releaseHang = r))
}
const closeGate = (): void => {
  gate = new Promise<void>((r) => (openGate = r))
}

const handlers: HandlerTable = {
  'charge.start': async ({ stationId }) => {
    await gate
    return { session: { sessionId: `s-${stationId}`, stationId, startedAt: formatTime(0), meterStartWh: 0 } }
  },
  'hub.info': async () => ({ hubId: HUB, name: 'A', city: 'Alpha', position: { lat: 1, lon: 2 }, stations: 0, peers: [] }),
  'charge.status': async ({ sessionId }) => {
    // Answer out of order so matching by id is really exercised.
    await new Promise((r) => setImmediate(r))
    if (Math.random() < 0.5) await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 5)))
    return { session: { sessionId, stationId: 'S1', startedAt: formatTime(0), meterStartWh: 0, energyWh: Number(sessionId.slice(2)), powerW: 0, costMinor: 0 } }
  },
  // Does not answer until released: for the timeout test.
  'charge.stop': async () => {
    await hang
    throw new VoltwayError('NOT_FOUND', 'released')
  },
  'reservation.list': async () => {
    throw new VoltwayError('FORBIDDEN', 'not today')
  },
  'trip.cancel': async () => {
    throw new Error('database on fire')
  },
}

interface Broker {
  url: string
  broker?: Aedes
  close(): Promise<void>
}

const brokers: Array<{ name: string; start: () => Promise<Broker>; inProcess?: boolean }> = [
  { name: 'aedes', start: () => startAedes() },
  { name: 'aedes, the server in process', start: () => startAedes(), inProcess: true },
]
if (mosquittoTools().broker) brokers.push({ name: 'mosquitto', start: () => startMosquitto() })
else t.comment('SKIP mosquitto variants: no mosquitto binary on this machine')

for (const b of brokers) {
  t.test(`request/response over ${b.name}`, async (t) => {
    const broker = await b.start()
    t.teardown(() => broker.close())
    const clients: MqttClient[] = []
    const connect = async (clientId: string, protocolVersion: 4 | 5): Promise<MqttClient> => {
      const c = await connectAsync(broker.url, { clientId, protocolVersion, reconnectPeriod: 0 })
      clients.push(c)
      return c
    }
    t.teardown(async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)))
    })
    // Where a server takes requests: its own connection, or the broker itself.
    const source = async (clientId: string): Promise<RpcServerSource> =>
      b.inProcess && broker.broker ? { transport: inProcessRequests(broker.broker) } : { client: await connect(clientId, 5) }
    const internal: unknown[] = []
    // 1,000 concurrent requests of one vehicle are legitimate here: raise its limit for this server.
    const server: RpcServer = createRpcServer({ ...(await source('hub')), hubId: HUB, handlers, onInternalError: (e) => internal.push(e), perVehicleLimit: 1000 })
    await server.start()

    // A second server with small per-vehicle bounds and handlers that record who runs when.
    const running = new Map<string, number>()
    const maxRunning = new Map<string, number>()
    const started: string[] = []
    const fairHandlers: HandlerTable = {
      ...handlers,
      'charge.start': async ({ stationId }, ctx) => {
        started.push(stationId)
        running.set(ctx.vehicleId, (running.get(ctx.vehicleId) ?? 0) + 1)
        maxRunning.set(ctx.vehicleId, Math.max(maxRunning.get(ctx.vehicleId) ?? 0, running.get(ctx.vehicleId) ?? 0))
        try {
          await gate
        } finally {
          running.set(ctx.vehicleId, (running.get(ctx.vehicleId) ?? 1) - 1)
        }
        return { session: { sessionId: `s-${stationId}`, stationId, startedAt: formatTime(0), meterStartWh: 0 } }
      },
    }
    const fair = createRpcServer({ ...(await source('hub-fair')), hubId: 'hubF', handlers: fairHandlers, perVehicleConcurrency: 2, perVehicleLimit: 10 })
    await fair.start()

    t.test("a vehicle's flood runs at most a few of its requests at a time, and another vehicle is answered before the backlog drains", async (t) => {
      const flooder = createRpcClient({ client: await connect('F1', 5), hubId: 'hubF', vehicleId: 'F1', timeoutMs: 10_000 })
      const other = createRpcClient({ client: await connect('F2', 5), hubId: 'hubF', vehicleId: 'F2', timeoutMs: 10_000 })
      await Promise.all([flooder.start(), other.start()])
      closeGate()
      let floodAnswered = 0
      const flood = Promise.all(Array.from({ length: 10 }, (_, i) => flooder.request('charge.start', { stationId: `F1-${i}` }).finally(() => floodAnswered++)))
      await waitUntil(() => fair.inFlight === 10, 5000, "F1's 10 requests at the hub")
      t.match(await other.request('hub.info', {}), { hubId: HUB }, "F2's request is answered while F1's wait")
      t.equal(floodAnswered, 0, "none of F1's backlog had drained")
      t.equal(maxRunning.get('F1'), 2, 'F1 ran 2 at a time, not 10')
      openGate()
      t.equal((await flood).length, 10, "then F1's backlog is served")
      await Promise.all([flooder.close(), other.close()])
    })

    t.test('beyond its limit a vehicle is answered RATE_LIMITED with its request id, and that request never runs', async (t) => {
      const c = await connect('F3', 5)
      const flooder = createRpcClient({ client: c, hubId: 'hubF', vehicleId: 'F3', timeoutMs: 10_000 })
      await flooder.start()
      closeGate()
      const backlog = Promise.all(Array.from({ length: 10 }, (_, i) => flooder.request('charge.start', { stationId: `F3-${i}` })))
      await waitUntil(() => fair.inFlight === 10, 5000, "F3's 10 requests at the hub")
      await c.subscribeAsync(topics.vehicleResponse('F3'), { qos: 1 })
      const answer = onceWithTimeout(c, 'message')
      await c.publishAsync(topics.hubRequest('hubF', 'F3'), JSON.stringify({ id: 'over-1', op: 'charge.start', args: { stationId: 'F3-over' } }), { qos: 1 })
      const [, payload] = (await answer) as [string, Buffer]
      t.match(JSON.parse(payload.toString()), { id: 'over-1', ok: false, error: { code: 'RATE_LIMITED', message: /wait for their answers/, details: { limit: 10 } } })
      openGate()
      t.equal((await backlog).length, 10, 'the accepted ones are all answered')
      t.notOk(started.includes('F3-over'), 'the refused one never ran')
      await flooder.close()
    })

    t.test('a retained request is never executed: a server that subscribes later ignores the replay', async (t) => {
      const c = await connect('RT1', 5)
      await c.subscribeAsync(topics.vehicleResponse('RT1'), { qos: 1 })
      const replies: Array<{ id: unknown }> = []
      c.on('message', (_topic, payload) => replies.push(JSON.parse(payload.toString()) as { id: unknown }))
      await c.publishAsync(topics.hubRequest('hubR', 'RT1'), JSON.stringify({ id: 'ret-1', op: 'charge.start', args: { stationId: 'RT-ghost' } }), { qos: 1, retain: true })
      t.teardown(() => c.publishAsync(topics.hubRequest('hubR', 'RT1'), '', { qos: 1, retain: true }))
      const ignored: string[] = []
      const later = createRpcServer({ ...(await source('hub-later')), hubId: 'hubR', handlers: fairHandlers, onRetainedIgnored: ({ vehicleId }) => ignored.push(vehicleId) })
      await later.start()
      t.teardown(() => later.stop())
      const rpc = createRpcClient({ client: c, hubId: 'hubR', vehicleId: 'RT1' })
      await rpc.start()
      // Delivered after the retained replay, so once it is answered the replay has been seen.
      await rpc.request('hub.info', {})
      t.notOk(started.includes('RT-ghost'), 'the retained request did not run')
      t.notOk(replies.some((r) => r.id === 'ret-1'), 'and was not answered')
      // In process the broker never replays retained messages to the server at all.
      t.same(ignored, b.inProcess ? [] : ['RT1'], b.inProcess ? 'nothing was replayed to the server' : 'the server reported it')
      await rpc.close()
    })

    t.test('replies carry an MQTT 5 Message Expiry', async (t) => {
      const c = await connect('MX1', 5)
      await c.subscribeAsync(topics.vehicleResponse('MX1'), { qos: 1 })
      const got = onceWithTimeout(c, 'message')
      await c.publishAsync(topics.hubRequest(HUB, 'MX1'), JSON.stringify({ id: 'mx-1', op: 'hub.info', args: {} }), { qos: 1 })
      const [, , packet] = (await got) as [string, Buffer, { properties?: { messageExpiryInterval?: number } }]
      t.ok((packet.properties?.messageExpiryInterval ?? 0) > 0 && (packet.properties?.messageExpiryInterval ?? 0) <= 60, `expiry ${packet.properties?.messageExpiryInterval} s`)
    })

    for (const version of [4, 5] as const) {
      t.test(`MQTT ${version === 4 ? '3.1.1' : '5'}: 1,000 concurrent requests are matched to their replies, none lost or crossed`, async (t) => {
        const c = await connect(`V${version}`, version)
        const rpc = createRpcClient({ client: c, hubId: HUB, vehicleId: `V${version}`, timeoutMs: 20_000 })
        await rpc.start()
        const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => rpc.request('charge.status', { sessionId: `s-${i}` })))
        t.equal(results.length, 1000)
        t.ok(results.every((r, i) => r.session.sessionId === `s-${i}` && r.session.energyWh === i), 'every reply belongs to its request')
        t.equal(rpc.pending, 0)
        await rpc.close()
      })

      t.test(`MQTT ${version === 4 ? '3.1.1' : '5'}: a request nobody answers times out cleanly`, async (t) => {
        const c = await connect(`T${version}`, version)
        const rpc = createRpcClient({ client: c, hubId: HUB, vehicleId: `T${version}` })
        await rpc.start()
        newHang()
        const started = Date.now()
        await t.rejects(rpc.request('charge.stop', { sessionId: 's-1' }, { timeoutMs: 200 }), { code: 'TIMEOUT' })
        t.ok(Date.now() - started >= 190, 'waited for the timeout')
        await t.rejects(rpc.request('hub.info', {}, { timeoutMs: 200, hubId: 'nobody' }), { code: 'TIMEOUT' })
        t.equal(rpc.pending, 0, 'nothing left pending')
        // A request id given by the caller: it goes with the request and its TIMEOUT; a second one while it waits, or a malformed one, is refused unsent.
        const given = rpc.request('charge.stop', { sessionId: 's-1' }, { timeoutMs: 200, requestId: 'repeat-me' })
        await t.rejects(rpc.request('charge.stop', { sessionId: 's-1' }, { requestId: 'repeat-me' }), { code: 'BAD_REQUEST', details: { id: 'repeat-me' } })
        await t.rejects(given, { code: 'TIMEOUT', details: { id: 'repeat-me', tries: 1 } })
        await t.rejects(rpc.request('charge.stop', { sessionId: 's-1' }, { requestId: 'a\nb' }), { code: 'BAD_REQUEST' })
        t.equal(rpc.pending, 0)
        releaseHang()
        t.same(await rpc.request('hub.info', {}), { hubId: HUB, name: 'A', city: 'Alpha', position: { lat: 1, lon: 2 }, stations: 0, peers: [] }, 'the connection still works')
        await rpc.close()
      })

      t.test(`MQTT ${version === 4 ? '3.1.1' : '5'}: coded errors travel, internal errors do not leak`, async (t) => {
        const c = await connect(`E${version}`, version)
        const rpc = createRpcClient({ client: c, hubId: HUB, vehicleId: `E${version}` })
        await rpc.start()
        await t.rejects(rpc.request('reservation.list', {}), { code: 'FORBIDDEN', message: 'not today' })
        await t.rejects(rpc.request('trip.cancel', { tripId: 't1' }), { code: 'INTERNAL', message: 'internal error' })
        await t.rejects(rpc.request('route.list', { destination: 'x' }), { code: 'UNKNOWN_OP' })
        await t.rejects(rpc.request('charge.status', { sessionId: 'a/b' }), { code: 'BAD_REQUEST' })
        t.ok(internal.some((e) => e instanceof Error && e.message === 'database on fire'), 'the internal error was reported to the hub')
        await rpc.close()
      })
    }

    t.test('bad JSON, unknown ops and invalid args get coded errors on the default reply topic', async (t) => {
      const c = await connect('R1', 4)
      await c.subscribeAsync(topics.vehicleResponse('R1'), { qos: 1 })
      const replies: Array<Record<string, unknown>> = []
      c.on('message', (_topic, payload) => replies.push(JSON.parse(payload.toString()) as Record<string, unknown>))
      const send = (body: string): Promise<unknown> => c.publishAsync(topics.hubRequest(HUB, 'R1'), body, { qos: 1 })
      await send('{not json')
      await send('[1,2]')
      await send(JSON.stringify({ id: 'u1', op: 'warp.drive', args: {} }))
      await send(JSON.stringify({ id: 'a1', op: 'charge.status', args: { sessionId: 5 } }))
      await send(JSON.stringify({ id: 'p1', op: 'hub.info', args: {}, __proto__x: 1 }))
      await send('{"id":"pp","op":"hub.info","args":{"__proto__":{"polluted":true}}}')
      await send(JSON.stringify({ id: 42, op: 'hub.info' }))
      // Not text a store keeps as sent (PostgreSQL refuses U+0000 and turns a lone surrogate into U+FFFD).
      await send(JSON.stringify({ id: 'n\u0000', op: 'hub.info' }))
      await send(JSON.stringify({ id: 's\ud800', op: 'hub.info' }))
      await waitUntil(() => replies.length >= 9, 5000, '9 replies')
      const byId = (id: unknown) => replies.find((r) => r.id === id)
      const unread = replies.filter((r) => r.id === null)
      t.equal(unread.length, 5, 'bad JSON, an array, a number id, a NUL id and a lone-surrogate id: answered with id null')
      t.match(unread, Array.from({ length: 5 }, () => ({ ok: false, error: { code: 'BAD_REQUEST' } })))
      t.equal(unread.filter((r) => /control characters or unpaired surrogates/.test(String((r.error as { message?: unknown }).message))).length, 3, 'an unreadable id is told what an id may hold')
      t.match(byId('pp'), { ok: false, error: { code: 'BAD_REQUEST', message: /__proto__/ } }, 'a request with a readable id and a __proto__ key is answered with its id')
      t.match(byId('u1'), { ok: false, error: { code: 'UNKNOWN_OP' } })
      t.match(byId('a1'), { ok: false, error: { code: 'BAD_REQUEST', details: { issues: [{ path: 'sessionId' }] } } })
      t.match(byId('p1'), { ok: true })
      t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
    })

    t.test('an MQTT 5 Response Topic in another vehicle\'s namespace is ignored: the reply goes to the caller', async (t) => {
      const attacker = await connect('V1x', 5)
      const victim = await connect('V2x', 5)
      const victimGot: string[] = []
      await victim.subscribeAsync('voltway/v1/vehicles/V2x/#', { qos: 1 })
      victim.on('message', (topic) => victimGot.push(topic))
      await attacker.subscribeAsync(topics.vehicleResponse('V1x'), { qos: 1 })
      const corr = Buffer.from('c-123')
      attacker.publish(topics.hubRequest(HUB, 'V1x'), JSON.stringify({ id: 'x1', op: 'hub.info', args: {} }), {
        qos: 1,
        properties: { responseTopic: 'voltway/v1/vehicles/V2x/res', correlationData: corr },
      })
      const [topic, payload, packet] = (await onceWithTimeout(attacker, 'message')) as [string, Buffer, { properties?: { correlationData?: Buffer } }]
      t.equal(topic, topics.vehicleResponse('V1x'), 'answered on the caller\'s own topic')
      t.match(JSON.parse(payload.toString()), { id: 'x1', ok: true })
      t.same(packet.properties?.correlationData, corr, 'correlation data echoed')
      // Positive control: a reply to the victim's own request does reach it, and nothing else did before it.
      const vrpc = createRpcClient({ client: victim, hubId: HUB, vehicleId: 'V2x' })
      await vrpc.start()
      await vrpc.request('hub.info', {})
      t.ok(victimGot.length >= 1 && victimGot.every((tp) => tp.startsWith('voltway/v1/vehicles/V2x/res/')), 'the victim only received its own reply')
      await vrpc.close()
    })

    t.test('an MQTT 5 Response Topic inside the caller\'s namespace is honoured, with Correlation Data', async (t) => {
      const c = await connect('V3x', 5)
      await c.subscribeAsync('voltway/v1/vehicles/V3x/inbox/1', { qos: 1 })
      c.publish(topics.hubRequest(HUB, 'V3x'), JSON.stringify({ id: 'y1', op: 'hub.info', args: {} }), {
        qos: 1,
        properties: { responseTopic: 'voltway/v1/vehicles/V3x/inbox/1', correlationData: Buffer.from('abc') },
      })
      const [topic, , packet] = (await onceWithTimeout(c, 'message')) as [string, Buffer, { properties?: { correlationData?: Buffer } }]
      t.equal(topic, 'voltway/v1/vehicles/V3x/inbox/1')
      t.equal(packet.properties?.correlationData?.toString(), 'abc')
    })

    const { pub, sub } = mosquittoTools()
    t.test('mosquitto_pub and mosquitto_sub can talk to a server built with the helper', { skip: !pub || !sub ? 'mosquitto clients not installed' : false }, async (t) => {
      const port = new URL(broker.url).port
      for (const v of ['mqttv311', 'mqttv5']) {
        const subProc = spawn(sub as string, ['-h', '127.0.0.1', '-p', port, '-V', v, '-i', `cli-sub-${v}`, '-t', topics.vehicleResponse('CLI1'), '-C', '1', '-W', '10', '-q', '1'])
        let out = ''
        subProc.stdout.on('data', (d: Buffer) => (out += d.toString()))
        // mosquitto_sub prints nothing when subscribed; retry the publish until the answer arrives.
        // 'close', not 'exit': 'exit' may come before the last stdout data has been read.
        const exit = onceWithTimeout(subProc, 'close', 12_000)
        const pubOnce = () =>
          new Promise<void>((resolve) => {
            const p = spawn(pub as string, ['-h', '127.0.0.1', '-p', port, '-V', v, '-i', `cli-pub-${v}`, '-q', '1', '-t', topics.hubRequest(HUB, 'CLI1'), '-m', '{"id":"cli-1","op":"hub.info","args":{}}'])
            p.once('exit', () => resolve())
          })
        await waitUntil(async () => {
          if (out) return true
          await pubOnce()
          return out.length > 0 || (await Promise.race([exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 200))]))
        }, 10_000, `mosquitto_sub (${v}) output`)
        await exit
        t.match(JSON.parse(out.trim()), { id: 'cli-1', ok: true, result: { hubId: HUB } }, `${v}: answer received`)
      }
    })

    t.test('stop() answers in-flight requests before it resolves', async (t) => {
      const c = await connect('S1x', 4)
      const rpc = createRpcClient({ client: c, hubId: HUB, vehicleId: 'S1x' })
      await rpc.start()
      closeGate()
      const inflight = Promise.all(Array.from({ length: 50 }, (_, i) => rpc.request('charge.start', { stationId: `S${i}` })))
      await waitUntil(() => server.inFlight === 50, 5000, '50 requests in flight')
      let stopped = false
      const stopping = server.stop().then(() => (stopped = true))
      await new Promise((r) => setImmediate(r))
      t.notOk(stopped, 'stop waits for the requests it accepted')
      openGate()
      await stopping
      const res = await inflight
      t.equal(res.length, 50, 'all 50 answered')
      t.ok(res.every((r, i) => r.session.stationId === `S${i}`))
      await t.rejects(rpc.request('hub.info', {}, { timeoutMs: 300 }), { code: 'TIMEOUT' }, 'no new requests are taken')
      await rpc.close()
    })
  })
}
