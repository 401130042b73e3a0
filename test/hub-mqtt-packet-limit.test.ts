/**
 * The bound on MQTT packets (hub/broker/packet-limit.ts) on a real Mosquitto:
 * the hub's own connection announces it (MQTT 5 Maximum Packet Size), so even
 * a Mosquitto with no limit of its own never hands the hub a bigger packet;
 * and the mosquitto.conf lines `voltway hub acl` writes make Mosquitto refuse
 * one from any client, as the embedded broker does.
 */
import t from 'tap'
import { connectAsync, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { topics } from '../protocol/index.js'
import { MAX_PACKET_BYTES } from '../hub/broker/index.js'
import { startMosquittoForAcl } from './helpers/broker-fixtures.js'
import { hubConfig, startTestHub } from './helpers/hub.js'
import { mosquittoBinary, startMosquitto } from './helpers/mosquitto.js'

const skip = mosquittoBinary() ? false : 'mosquitto is not installed'

/** A valid station event, padded with `message` to about `bytes` bytes of JSON. */
function fault(seq: number, bytes = 0): string {
  const ev = { seq, type: 'fault', code: 'METER_STALE', meterWh: 13_345, ts: '2026-12-03T12:00:00.000Z', epoch: 'packet-limit' }
  return JSON.stringify(bytes > 0 ? { ...ev, message: 'x'.repeat(bytes) } : ev)
}

/** Resolves with the first message `client` gets on `topic`. */
function next(client: MqttClient, topic: string): Promise<string> {
  return new Promise((resolve) => {
    const on = (tp: string, payload: Buffer): void => {
      if (tp !== topic) return
      client.removeListener('message', on)
      resolve(payload.toString())
    }
    client.on('message', on)
  })
}

t.test('the hub on a Mosquitto without a packet limit never gets a packet over MAX_PACKET_BYTES: the broker drops it, the next event is stored', { skip }, async (t) => {
  // Anonymous, and no max_packet_size: Mosquitto takes packets up to 256 MiB from anyone.
  const m = await startMosquitto()
  t.teardown(() => m.close())
  const logged: string[] = []
  const hub = await startTestHub({ ...hubConfig(), mqtt: { url: m.url } }, { logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) }) })
  t.teardown(() => hub.close())
  const station = await connectAsync(m.url, { clientId: 'FSA-1', protocolVersion: 5, reconnectPeriod: 0 })
  t.teardown(() => station.endAsync())
  await station.subscribeAsync(topics.station('FSA-1', 'ack'), { qos: 1 })
  const acked = next(station, topics.station('FSA-1', 'ack'))
  // The same station, in order on one connection: the oversized event first (a hub that got it would refuse it
  // as over 64 KiB, with a warning), then a valid one. Its ack means the hub has read past the first.
  await station.publishAsync(topics.station('FSA-1', 'events'), fault(1, MAX_PACKET_BYTES + 1024), { qos: 1 })
  await station.publishAsync(topics.station('FSA-1', 'events'), fault(1), { qos: 1 })
  t.match(JSON.parse(await acked), { seq: 1, epoch: 'packet-limit' }, 'the valid event is stored and acknowledged')
  t.same(
    logged.filter((l) => l.includes('invalid station event ignored')),
    [],
    'the hub never read the oversized one (no "invalid station event ignored")',
  )
})

t.test('the generated mosquitto.conf refuses a packet over MAX_PACKET_BYTES from any client, and only that one', { skip }, async (t) => {
  const base = hubConfig()
  const m = await startMosquittoForAcl({ hubId: base.hubId, stations: base.stations, vehicles: base.vehicles })
  t.teardown(() => m.close())
  const hub = await connectAsync(m.url, { clientId: m.hub.username, username: m.hub.username, password: m.hub.password, protocolVersion: 5, reconnectPeriod: 0 })
  t.teardown(() => hub.endAsync())
  await hub.subscribeAsync(topics.station('+', 'events'), { qos: 1 })
  const got: number[] = []
  let oversized: () => void = () => undefined
  const delivered0 = new Promise<'delivered'>((resolve) => (oversized = () => resolve('delivered')))
  hub.on('message', (_topic, payload) => {
    got.push(payload.length)
    if (payload.length > MAX_PACKET_BYTES) oversized()
  })
  const login = { username: 'FSA-1', password: 's3cret-1', protocolVersion: 5 as const, reconnectPeriod: 0 }
  const station = await connectAsync(m.url, login)
  const closed = new Promise<'closed'>((resolve) => station.once('close', () => resolve('closed')))
  // QoS 0: nothing waits for an answer the broker will not send; the close is the answer (without the bound, the delivery).
  station.publish(topics.station('FSA-1', 'events'), fault(1, MAX_PACKET_BYTES))
  t.equal(await Promise.race([closed, delivered0]), 'closed', 'Mosquitto closed the connection that sent it')
  station.end(true)
  const again = await connectAsync(m.url, login)
  t.teardown(() => again.endAsync())
  const delivered = next(hub, topics.station('FSA-1', 'events'))
  const justUnder = fault(2, MAX_PACKET_BYTES - 4096)
  await again.publishAsync(topics.station('FSA-1', 'events'), justUnder, { qos: 1 })
  t.equal((await delivered).length, justUnder.length, 'a packet under the bound still goes through')
  t.same(got, [justUnder.length], 'the subscriber never got the oversized one')
})
