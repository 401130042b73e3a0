/**
 * Station `events` (QoS 1, durable seq) and `telemetry` (QoS 0). Each event is
 * applied (idempotently), stored once per (station, epoch, seq), then
 * acknowledged with the highest seq of its epoch up to which everything is
 * stored, and the seq the hub lacks when it holds a later one
 * (docs/protocol.md, "Events"). A station's events are handled one at a time,
 * in arrival order. Retained ones are ignored.
 *
 * What one station can make the hub keep waiting is bounded: at most
 * `maxPendingPerStation` of its events wait or run at once; one beyond them
 * is dropped unread and not acknowledged, so the station sends it again (it
 * keeps every unacknowledged event: at least once). The embedded broker
 * paces each station's messages already (hub/broker/embedded-broker.ts); an
 * external broker such as Mosquitto does not, so this bounds the hub's memory
 * there, not the broker's own queue for the hub (Mosquitto's
 * `max_queued_messages`), which a flood can still overflow.
 */
import type { MqttClient } from 'mqtt'
import type { IPublishPacket } from 'mqtt-packet'
import type { Logger } from 'pino'
import { StationEvent, Telemetry, parseJsonObject, parseStationTopic, topics, type StationAck } from '../../protocol/index.js'

export interface EventSink {
  /** Apply an event's effect; must be idempotent (it may run again after a crash or a re-send). */
  applyEvent(stationId: string, event: StationEvent): Promise<void>
  /** Store the event (as read: the fields it knows) once; resolve the ack to publish, or null when there is nothing to acknowledge yet. */
  recordEvent(stationId: string, event: StationEvent): Promise<StationAck | null>
  onTelemetry(stationId: string, t: Telemetry): void
}

export interface EventListener {
  start(): Promise<void>
  stop(): Promise<void>
}

export interface EventListenerOptions {
  /**
   * MQTT shared-subscription group for `events` (hub replicas: each event to
   * one replica; the store keeps each event once whichever replica gets it).
   * Telemetry still reaches every replica (each one's dashboard shows it).
   */
  shareGroup?: string
  /** Events of one station waiting or running at once, beyond which one is dropped unacknowledged (module doc). Default 256. */
  maxPendingPerStation?: number
}

/** The default of EventListenerOptions.maxPendingPerStation: a burst a station's outbox resends after a reconnect fits. */
export const MAX_PENDING_EVENTS_PER_STATION = 256

export function createEventListener(client: MqttClient, sink: EventSink, logger: Logger, opts: EventListenerOptions = {}): EventListener {
  const eventsFilter = opts.shareGroup === undefined ? topics.stationFilter('events') : `$share/${opts.shareGroup}/${topics.stationFilter('events')}`
  const log = logger.child({ component: 'station-events' })
  /**
   * Per station with events waiting or running: the last of them (each waits for the one before), how many
   * (at most maxPending), and whether a drop was logged since the line last drained.
   */
  const lines = new Map<string, { tail: Promise<void>; n: number; dropping: boolean }>()
  const maxPending = opts.maxPendingPerStation ?? MAX_PENDING_EVENTS_PER_STATION
  let stopped = false

  const handleEvent = async (stationId: string, payload: Buffer): Promise<void> => {
    const json = parseJsonObject(payload)
    const ev = json.ok ? StationEvent.safeParse(json.value) : null
    if (!ev?.success) {
      log.warn({ stationId }, 'invalid station event ignored')
      return
    }
    try {
      await sink.applyEvent(stationId, ev.data)
      const ack = await sink.recordEvent(stationId, ev.data)
      if (ack) await client.publishAsync(topics.station(stationId, 'ack'), JSON.stringify(ack), { qos: 1 })
    } catch (err) {
      // Not acknowledged: the station keeps the event and sends it again.
      log.error({ err, stationId, seq: ev.data.seq }, 'station event not stored')
    }
  }

  const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    if (stopped) return
    const t = parseStationTopic(topic)
    if (!t) return
    // A retained event or reading is a replay of something already reported, never news.
    if (packet.retain && (t.kind === 'events' || t.kind === 'telemetry')) {
      log.warn({ stationId: t.stationId, kind: t.kind }, 'retained station message ignored')
      return
    }
    if (t.kind === 'telemetry') {
      const json = parseJsonObject(payload)
      const tel = json.ok ? Telemetry.safeParse(json.value) : null
      if (tel?.success) sink.onTelemetry(t.stationId, tel.data)
      return
    }
    if (t.kind !== 'events') return
    const stationId = t.stationId
    let line = lines.get(stationId)
    if (line && line.n >= maxPending) {
      // Unread and unacknowledged: the station sends it again. Logged once per backlog (until the line drains).
      if (!line.dropping) log.warn({ stationId, pending: line.n }, `station sends events faster than the hub stores them: over ${maxPending} waiting, later ones dropped unacknowledged until they drain (the station resends them)`)
      line.dropping = true
      return
    }
    if (!line) lines.set(stationId, (line = { tail: Promise.resolve(), n: 0, dropping: false }))
    const l = line
    l.n++
    l.tail = l.tail.then(() => handleEvent(stationId, payload))
    void l.tail.finally(() => {
      if (--l.n === 0 && lines.get(stationId) === l) lines.delete(stationId)
    })
  }

  return {
    async start() {
      client.on('message', onMessage)
      await client.subscribeAsync([eventsFilter, topics.stationFilter('telemetry')], { qos: 1 })
    },
    async stop() {
      stopped = true
      client.removeListener('message', onMessage)
      await Promise.allSettled([...lines.values()].map((l) => l.tail))
    },
  }
}
