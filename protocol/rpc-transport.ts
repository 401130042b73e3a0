/**
 * Where the request server (./rpc-server.ts) takes vehicle requests from and
 * sends its answers: an MQTT connection (`mqttRequestTransport`), or the
 * hub's embedded broker itself, in process (hub/broker/in-process-requests.ts).
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt'
import { useNoDelay } from './no-delay.js'

/** What the server reads of a delivered PUBLISH. */
export interface RequestPacket {
  /** The QoS it was delivered at: 0, 1 or 2. */
  qos: number
  /** Set when the broker replays a retained message; such a request is never run [MQTT-3.3.1-9]. */
  retain: boolean
  properties?: { responseTopic?: string; correlationData?: Buffer }
}

export type RequestListener = (topic: string, payload: Buffer, packet: RequestPacket) => void

/** One answer: QoS 0 or 1, never retained; MQTT 5 properties where the connection speaks MQTT 5. */
export interface AnswerOptions {
  qos: 0 | 1
  /** Message Expiry Interval, s [MQTT 5 §3.3.2.3.3]. */
  messageExpiryInterval: number
  correlationData?: Buffer
}

export interface RequestTransport {
  /** Deliver every PUBLISH on `filter` to `listener` (subscribed at QoS 1) from the time this resolves. */
  subscribe(filter: string, listener: RequestListener): Promise<void>
  /** Stop delivering: what was delivered before this resolves is still answered. Rejects when the connection is gone. */
  unsubscribe(filter: string, listener: RequestListener): Promise<void>
  /** Send one answer. Rejects when it could not be handed to the broker. */
  publish(topic: string, body: string, o: AnswerOptions): Promise<void>
  /**
   * Leave every request that arrives from now on unacknowledged, for a client
   * with a persistent session on an external broker: the broker delivers them
   * again at the next start [MQTT 5 §4.4]. Absent where there is no such session.
   */
  holdRequests?(isRequest: (topic: string) => boolean): void
}

/**
 * An answer larger than the broker takes from this client: its MQTT 5 Maximum Packet Size (CONNACK;
 * Mosquitto's `max_packet_size`). Sent anyway, the broker would close the connection, and the QoS 1
 * answer would be sent again at each reconnect, cutting off every request after it.
 */
export class AnswerTooLarge extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`the answer is ${bytes} bytes, more than the hub's MQTT broker accepts from the hub (${maxBytes} bytes: its max_packet_size)`)
    this.name = 'AnswerTooLarge'
  }
}

/** Fixed header, topic length, packet id and properties beside the correlation data: what a PUBLISH adds to topic and payload, at most. */
const PUBLISH_OVERHEAD_BYTES = 32

/** Requests over an MQTT.js connection (any broker); answers carry MQTT 5 properties when it speaks MQTT 5. */
export function mqttRequestTransport(client: MqttClient): RequestTransport {
  const listeners = new Set<RequestListener>()
  // The broker's limit from its last CONNACK: mqtt.js forgets it while the connection is down, and an answer finished
  // then is stored and sent at the reconnect, where an oversized one would be refused at every reconnect, for ever.
  let brokerMax = client.serverProperties?.maximumPacketSize
  client.on('connect', (connack) => (brokerMax = connack.properties?.maximumPacketSize))
  return {
    async subscribe(filter, listener) {
      useNoDelay(client)
      listeners.add(listener)
      client.on('message', listener)
      await client.subscribeAsync(filter, { qos: 1 })
    },
    async unsubscribe(filter, listener) {
      try {
        if (client.connected) await client.unsubscribeAsync(filter)
      } finally {
        client.removeListener('message', listener)
        listeners.delete(listener)
      }
    },
    async publish(topic, body, o) {
      // mqtt.js does not check the broker's limit itself (brokerMax: the current CONNACK's while connected).
      if (brokerMax !== undefined) {
        const bytes = Buffer.byteLength(topic) + Buffer.byteLength(body) + (o.correlationData?.length ?? 0) + PUBLISH_OVERHEAD_BYTES
        if (bytes > brokerMax) throw new AnswerTooLarge(bytes, brokerMax)
      }
      const publishOpts: IClientPublishOptions = { qos: o.qos }
      if (client.options.protocolVersion === 5) {
        publishOpts.properties = { messageExpiryInterval: o.messageExpiryInterval, ...(o.correlationData !== undefined ? { correlationData: o.correlationData } : {}) }
      }
      await client.publishAsync(topic, body, publishOpts)
    },
    holdRequests(isRequest) {
      // mqtt.js sends the PUBACK of a QoS 1 message only when handleMessage calls back: never calling it for
      // requests leaves them in the broker's session for the next start, instead of acknowledged and dropped.
      const pass = client.handleMessage.bind(client)
      client.handleMessage = (packet, callback) => {
        if (packet.cmd === 'publish' && isRequest(packet.topic)) return
        pass(packet, callback)
      }
      for (const listener of listeners) client.removeListener('message', listener)
      listeners.clear()
    },
  }
}
