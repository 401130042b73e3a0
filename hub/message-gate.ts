/**
 * Holds back the MQTT messages a client receives until its handlers are in
 * place. With a persistent session the broker delivers what was queued for
 * the hub right after CONNACK, before the hub has subscribed or attached its
 * request server; without the gate those requests would be acknowledged to
 * the broker and dropped. `open()` replays them in arrival order.
 */
import type { MqttClient } from 'mqtt'

export interface MessageGate {
  /** Deliver the held messages, then let messages through as they come. Idempotent. */
  open(): void
  /** How many messages are held now. */
  readonly held: number
}

export function gateMessages(client: MqttClient): MessageGate {
  const held: unknown[][] = []
  let isOpen = false
  const emit = client.emit.bind(client) as (event: string | symbol, ...args: unknown[]) => boolean
  // An own property shadows EventEmitter.prototype.emit for this client only.
  Object.defineProperty(client, 'emit', {
    configurable: true,
    writable: true,
    value: (event: string | symbol, ...args: unknown[]): boolean => {
      if (event === 'message' && !isOpen) {
        held.push(args)
        return true
      }
      return emit(event, ...args)
    },
  })
  return {
    open() {
      if (isOpen) return
      isOpen = true
      Reflect.deleteProperty(client, 'emit')
      for (const args of held.splice(0)) emit('message', ...args)
    },
    get held() {
      return held.length
    },
  }
}
