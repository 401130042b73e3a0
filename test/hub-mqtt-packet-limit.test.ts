/**
 * The bound on MQTT packets (hub/broker/packet-limit.ts) on a real Mosquitto:
 * the hub's own connection announces it (MQTT 5 Maximum Packet Size), so even
 * a Mosquitto with no limit of its own never hands the hub a bigger packet.
 * It bounds what the hub receives, not what it answers: the mosquitto.conf
 * lines `voltway hub acl` writes set no `max_packet_size`, which would.
 */
import t, { type Test } from 'tap'
import { connectAsync, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { topics } from '../protocol/index.js'
import { MAX_PACKET_BYTES } from '../hub/broker/index.js'
import { startMosquittoForAcl } from './helpers/broker-fixtures.js'
import { connectVehicle, hubConfig, startTestHub, type TestVehicle } from './helpers/hub.js'
import { mosquittoBinary, startMosquitto } from './helpers/mosquitto.js'
import { listAllStations } from '../vehicle-sim/commands/stations.js'

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

/** A hub with `n` stations on a Mosquitto from the generated files plus `ownLines`, and vehicle V1 logged in. */
async function hubWithStations(t: Test, n: number, ownLines: string[] = []): Promise<{ v: TestVehicle; stations: number }> {
  // About 170 bytes per station in station.list's answer.
  const stations = Array.from({ length: n }, (_, i) => ({ stationId: `S${i}`, position: { lat: -12 - (i % 100) / 1000, lon: -38.9 - Math.floor(i / 100) / 1000 }, powerKw: 22, priceMinorPerKwh: 73, password: `p${i}` }))
  const base = hubConfig({ stations })
  // Stations never log in here: the password file has the hub and the vehicles.
  const m = await startMosquittoForAcl({ hubId: base.hubId, stations: [], vehicles: base.vehicles }, ownLines)
  t.teardown(() => m.close())
  const hub = await startTestHub({ ...base, mqtt: { url: m.url, username: m.hub.username, password: m.hub.password } })
  t.teardown(() => hub.close())
  const v = await connectVehicle(m.url, base.hubId, 'V1', 'v1-pass')
  t.teardown(() => v.close())
  return { v, stations: n }
}

t.test("the generated mosquitto.conf does not bound the hub's own answers: station.list over 1 MiB reaches the vehicle, and the hub keeps serving", { skip }, async (t) => {
  const { v, stations } = await hubWithStations(t, 7000)
  const { stations: listed } = await v.rpc.request('station.list', {})
  t.equal(listed.length, stations, 'every station listed')
  t.ok(JSON.stringify(listed).length > MAX_PACKET_BYTES, 'in an answer over 1 MiB')
  t.ok(await v.rpc.request('hub.info', {}), 'and the next request answered')
})

t.test("an operator's max_packet_size below an answer: the asker gets ANSWER_TOO_LARGE, and the connection keeps serving", { skip }, async (t) => {
  const { v } = await hubWithStations(t, 500, ['max_packet_size 16384'])
  const err = await v.rpc.request('station.list', {}).then(
    () => null,
    (e: unknown) => e,
  )
  t.match(err, { code: 'ANSWER_TOO_LARGE', details: { maxBytes: 16384 }, message: /more than the hub's MQTT broker accepts from the hub \(16384 bytes: its max_packet_size\); the hub's operator must raise it/ }, 'why, in a small answer')
  t.ok(await v.rpc.request('hub.info', {}), 'the next request answered: the connection was not cut')
  const paged = await listAllStations(v.rpc)
  t.same(
    paged.map((s) => s.stationId),
    Array.from({ length: 500 }, (_, i) => `S${i}`).sort(),
    "in pages (voltway vehicle stations' own, made smaller when a page of 160 is refused), every station arrives under the operator's bound, each once, in id order",
  )
})
