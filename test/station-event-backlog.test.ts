/**
 * What one station can make the hub keep waiting is bounded
 * (hub/station-link/event-listener.ts): at most `maxPendingPerStation` of its
 * events wait or run at once; one beyond them is dropped unread and not
 * acknowledged, and stored when the station sends it again. The embedded
 * broker paces stations already; this is the bound behind an external broker,
 * here a bare aedes that paces nothing, so a station can publish as fast as
 * it likes.
 */
import t from 'tap'
import { connectAsync, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { topics, type StationAck, type StationEvent } from '../protocol/index.js'
import { createEventListener, type EventSink } from '../hub/station-link/event-listener.js'
import { startAedes } from './helpers/aedes.js'

const fault = (seq: number) => ({ seq, type: 'fault', code: 'METER_STALE', meterWh: 13_345, ts: '2026-12-03T12:00:00.000Z' })

/** Resolves once `client` has seen `n` messages on `topic`. */
function messagesSeen(client: MqttClient, topic: string, n: number): Promise<void> {
  let seen = 0
  return new Promise((resolve) => {
    const on = (t: string): void => {
      if (t === topic && ++seen === n) {
        client.removeListener('message', on)
        resolve()
      }
    }
    client.on('message', on)
  })
}

t.test("a station's events beyond the bound wait nowhere: dropped unacknowledged, stored when sent again; other stations are not held up", async (t) => {
  const broker = await startAedes()
  t.teardown(() => broker.close())
  const hub = await connectAsync(broker.url, { clientId: 'hub', protocolVersion: 5 })
  const station = await connectAsync(broker.url, { clientId: 'S1', protocolVersion: 5 })
  const other = await connectAsync(broker.url, { clientId: 'S2', protocolVersion: 5 })
  t.teardown(async () => {
    for (const c of [hub, station, other]) await c.endAsync()
  })
  let release: () => void = () => undefined
  const gate = new Promise<void>((r) => (release = r))
  const stored: string[] = []
  const sink: EventSink = {
    applyEvent: async () => undefined,
    async recordEvent(stationId: string, event: StationEvent): Promise<StationAck | null> {
      // S1's first event holds the line until released: the rest of S1's wait behind it.
      if (stationId === 'S1') await gate
      stored.push(`${stationId}/${event.seq}`)
      return { seq: event.seq }
    },
    onTelemetry: () => undefined,
  }
  const logged: string[] = []
  const listener = createEventListener(hub, sink, pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) }), { maxPendingPerStation: 4 })
  await listener.start()
  t.teardown(() => listener.stop())

  const arrived = messagesSeen(hub, topics.station('S1', 'events'), 10)
  for (let seq = 1; seq <= 10; seq++) await station.publishAsync(topics.station('S1', 'events'), JSON.stringify(fault(seq)), { qos: 1 })
  await arrived
  // S1 is held up; S2's event is its own line.
  const s2 = messagesSeen(hub, topics.station('S2', 'ack'), 1)
  await hub.subscribeAsync(topics.station('S2', 'ack'))
  await other.publishAsync(topics.station('S2', 'events'), JSON.stringify(fault(1)), { qos: 1 })
  await s2
  t.same(stored, ['S2/1'], "another station's event is stored while S1's wait")

  const acks = messagesSeen(hub, topics.station('S1', 'ack'), 4)
  await hub.subscribeAsync(topics.station('S1', 'ack'))
  release()
  await acks
  t.same(stored, ['S2/1', 'S1/1', 'S1/2', 'S1/3', 'S1/4'], 'the first four were kept and stored in order; the six beyond the bound were dropped')
  t.equal(logged.filter((l) => l.includes('faster than the hub stores them')).length, 1, 'the drops are logged once for the backlog')

  // The station sends what was not acknowledged again: now there is room.
  const resent = messagesSeen(hub, topics.station('S1', 'ack'), 6)
  for (let seq = 5; seq <= 10; seq++) await station.publishAsync(topics.station('S1', 'events'), JSON.stringify(fault(seq)), { qos: 1 })
  await resent
  t.same(stored.slice(5), ['S1/5', 'S1/6', 'S1/7', 'S1/8', 'S1/9', 'S1/10'], 'resent, each is stored')
})
