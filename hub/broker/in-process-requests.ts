/**
 * The hub's request server on its own embedded broker, without a connection:
 * requests are taken from aedes's in-process subscription
 * (`aedes.subscribe`) and answers go out with `aedes.publish`, so neither is
 * encoded to MQTT, written, parsed and acknowledged once more between the
 * hub and a broker in the same process (about a third of the CPU a
 * `station.nearest` cost there; bench/hub-mqtt.ts).
 *
 * What the vehicle sees is unchanged. Its PUBLISH passes the broker's ACL
 * and pacing hooks (./embedded-broker.ts) as before; the PUBACK of a QoS 1
 * request is sent once the request is in the server's queue, as it was once
 * aedes had queued it for the hub's connection (the hub and this broker live
 * and die together). An answer reaches only a client that may read its topic
 * (`authorizeForward`), at the QoS asked, with its MQTT 5 properties.
 * A live PUBLISH is never a replay of a retained message, so `retain` is
 * false [MQTT-3.3.1-9]; retained requests are refused by the ACL anyway.
 */
import type { Aedes, AedesPublishPacket } from 'aedes'
import type { RequestListener, RequestTransport } from '../../protocol/index.js'

type Deliver = (packet: AedesPublishPacket, callback: () => void) => void

export function inProcessRequests(broker: Aedes): RequestTransport {
  const delivering = new Map<RequestListener, Deliver>()
  return {
    subscribe(filter, listener) {
      const deliver: Deliver = (packet, callback) => {
        try {
          const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
          const { responseTopic, correlationData } = packet.properties ?? {}
          const properties = { ...(responseTopic !== undefined ? { responseTopic } : {}), ...(correlationData !== undefined ? { correlationData } : {}) }
          listener(packet.topic, payload, { qos: packet.qos, retain: false, properties })
        } finally {
          callback()
        }
      }
      delivering.set(listener, deliver)
      return new Promise<void>((resolve) => broker.subscribe(filter, deliver, resolve))
    },
    unsubscribe(filter, listener) {
      const deliver = delivering.get(listener)
      delivering.delete(listener)
      return deliver ? new Promise<void>((resolve) => broker.unsubscribe(filter, deliver, resolve)) : Promise.resolve()
    },
    publish(topic, body, o) {
      const properties = { messageExpiryInterval: o.messageExpiryInterval, ...(o.correlationData !== undefined ? { correlationData: o.correlationData } : {}) }
      return new Promise<void>((resolve, reject) =>
        broker.publish({ cmd: 'publish', topic, payload: Buffer.from(body), qos: o.qos, retain: false, dup: false, properties }, (err) => (err ? reject(err) : resolve())),
      )
    },
  }
}
