/**
 * Client ids on the embedded broker: every id is put under its login, so a
 * login's connections never take over each other or another login's session,
 * and stock Mosquitto clients work without `-i`.
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { connect as mqttConnect, connectAsync } from 'mqtt'
import { startEmbeddedBroker, type EmbeddedBroker } from '../hub/broker/index.js'
import { createRpcServer, type HandlerTable } from '../protocol/index.js'
import { mosquittoTools } from './helpers/mosquitto.js'
import { onceWithTimeout, waitUntil } from './helpers/net.js'

t.test("a vehicle may hold two connections (V1 and V1:sub) and neither takes over the other or another vehicle's session", async (t) => {
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations: [], vehicles: [{ vehicleId: 'V1', password: 'p1' }, { vehicleId: 'V2', password: 'p2' }] })
  t.teardown(() => broker.close())
  const main = await connectAsync(broker.url, { clientId: 'V1', username: 'V1', password: 'p1', reconnectPeriod: 0 })
  const sub = await connectAsync(broker.url, { clientId: 'V1:sub', username: 'V1', password: 'p1', reconnectPeriod: 0 })
  const v2 = await connectAsync(broker.url, { clientId: 'V2', username: 'V2', password: 'p2', reconnectPeriod: 0 })
  t.teardown(() => Promise.all([main.endAsync(true), sub.endAsync(true), v2.endAsync(true)]))
  await sub.subscribeAsync('voltway/v1/vehicles/V1/res', { qos: 1 })
  const hub = await connectAsync(broker.url, { clientId: 'hub', username: broker.hubCredentials.username, password: broker.hubCredentials.password, reconnectPeriod: 0 })
  t.teardown(() => hub.endAsync(true))
  const got = onceWithTimeout(sub, 'message', 5000)
  await hub.publishAsync('voltway/v1/vehicles/V1/res', '{"id":"1","ok":true,"result":{}}', { qos: 1 })
  await got
  t.ok(main.connected, 'the first connection of V1 is still up')
  t.ok(sub.connected, 'the second one received the reply')
  // V1 claiming the ids "V2" or "V2:x" gets a session of its own login, never V2's.
  const spoof = await connectAsync(broker.url, { clientId: 'V2', username: 'V1', password: 'p1', reconnectPeriod: 0 })
  const spoof2 = await connectAsync(broker.url, { clientId: 'V2:x', username: 'V1', password: 'p1', reconnectPeriod: 0 })
  t.teardown(() => Promise.all([spoof.endAsync(true), spoof2.endAsync(true)]))
  await v2.publishAsync('voltway/v1/hubs/H/req/V2', '{}', { qos: 1 })
  t.ok(v2.connected, "V2's session was not taken over")
})

/** A broker with V1 and V2 and a request server that answers hub.info, as the hub runs it. */
async function withServer(t: Test): Promise<EmbeddedBroker> {
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations: [], vehicles: [{ vehicleId: 'V1', password: 'p1' }, { vehicleId: 'V2', password: 'p2' }] })
  t.teardown(() => broker.close())
  const { username, password } = broker.hubCredentials
  const hub = await connectAsync(broker.url, { protocolVersion: 5, clientId: username, username, password, reconnectPeriod: 0 })
  t.teardown(() => hub.endAsync(true))
  const handlers: HandlerTable = { 'hub.info': async () => ({ hubId: 'H', name: 'H', city: 'C', position: { lat: 0, lon: 0 }, stations: 0, peers: [] }) }
  const server = createRpcServer({ client: hub, hubId: 'H', handlers })
  await server.start()
  return broker
}

/** Run a Mosquitto client; `output()` is what it printed so far, `exited` its exit code. */
function run(t: Test, cmd: string, args: string[]): { output: () => string; exited: Promise<number | null> } {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  p.stdout.on('data', (d: Buffer) => (out += d.toString()))
  p.stderr.on('data', (d: Buffer) => (out += d.toString()))
  // 'close', not 'exit': 'exit' may come before the last output has been read.
  const exited = new Promise<number | null>((resolve) => p.once('close', (code) => resolve(code)))
  t.teardown(() => {
    if (p.exitCode === null) p.kill()
  })
  return { output: () => out, exited }
}

const { sub, pub, rr } = mosquittoTools()
const hasStdbuf = !spawnSync('stdbuf', ['--version'], { stdio: 'ignore' }).error
const REQUEST = '{"id":"1","op":"hub.info","args":{}}'
const login = (port: number): string[] => ['-h', '127.0.0.1', '-p', String(port), '-u', 'V1', '-P', 'p1']

for (const v of ['mqttv311', 'mqttv5']) {
  t.test(`stock clients without -i (${v}): mosquitto_sub and mosquitto_pub of one login never take over each other`, { skip: sub && pub && hasStdbuf ? false : 'mosquitto clients or stdbuf not installed' }, async (t) => {
    const b = await withServer(t)
    // -d prints the SUBACK (unbuffered through stdbuf), so the publish goes out only once the subscription stands.
    const s = run(t, 'stdbuf', ['-o0', sub as string, ...login(b.port), '-V', v, '-d', '-t', 'voltway/v1/vehicles/V1/res', '-C', '1', '-W', '10'])
    await waitUntil(() => /SUBACK/.test(s.output()), 10_000, 'the SUBACK of mosquitto_sub')
    const p = run(t, pub as string, [...login(b.port), '-V', v, '-q', '1', '-t', 'voltway/v1/hubs/H/req/V1', '-m', REQUEST])
    t.equal(await p.exited, 0, 'mosquitto_pub published')
    t.equal(await s.exited, 0, 'mosquitto_sub got its message before -W ran out')
    t.match(s.output(), /\{"id":"1","ok":true,"result":\{"hubId":"H"/, 'the answer reached mosquitto_sub')
  })
}

t.test('mosquitto_rr without -i sends a request and prints its answer', { skip: rr ? false : 'mosquitto_rr not installed' }, async (t) => {
  const b = await withServer(t)
  const r = run(t, rr as string, [...login(b.port), '-t', 'voltway/v1/hubs/H/req/V1', '-e', 'voltway/v1/vehicles/V1/res', '-m', REQUEST, '-W', '10'])
  t.equal(await r.exited, 0)
  t.match(r.output(), /\{"id":"1","ok":true,"result":\{"hubId":"H"/)
})

t.test('an empty client id gets a fresh session under its login, and MQTT 5 clients are told its id', async (t) => {
  const b = await withServer(t)
  const c = mqttConnect(b.url, { protocolVersion: 5, clientId: '', username: 'V1', password: 'p1', reconnectPeriod: 0 })
  t.teardown(() => c.end(true))
  const [connack] = (await onceWithTimeout(c, 'connect')) as [{ properties?: { assignedClientIdentifier?: string } }]
  t.match(connack.properties?.assignedClientIdentifier, /^V1:[0-9a-f]{16}$/)
})
