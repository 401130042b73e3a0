/**
 * One socket write per event-loop turn instead of one per MQTT packet.
 * mqtt-packet corks a stream only until `process.nextTick`, so every reply a
 * hub sends from its own promise continuation becomes its own `writev`
 * system call (about a tenth of a loaded hub's CPU profile). Holding the cork
 * until `setImmediate` sends everything written during one turn (a burst of
 * answers, acknowledgements) in one call; nothing waits beyond that turn.
 */
import type { Writable } from 'node:stream'
import type { MqttClient } from 'mqtt'

const coalesced = new WeakSet<Writable>()

/** Cork `stream` at its first write of a turn and uncork it once the turn's I/O callbacks have run. Idempotent. */
export function coalesceWrites(stream: Writable): void {
  if (coalesced.has(stream)) return
  coalesced.add(stream)
  let corked = false
  const uncork = (): void => {
    corked = false
    stream.uncork()
  }
  const write = stream.write as (...args: unknown[]) => boolean
  stream.write = function (this: Writable, ...args: unknown[]): boolean {
    if (!corked && !stream.destroyed && !stream.writableEnded) {
      corked = true
      stream.cork()
      setImmediate(uncork)
    }
    return write.apply(this, args)
  } as Writable['write']
}

const tuned = new WeakSet<MqttClient>()

/** coalesceWrites on an MQTT client's connection, now and after every reconnect. */
export function useCoalescedWrites(client: MqttClient): void {
  const apply = (): void => {
    const stream = client.stream as unknown as Writable | undefined
    if (stream && typeof stream.cork === 'function') coalesceWrites(stream)
  }
  apply()
  if (tuned.has(client)) return
  tuned.add(client)
  client.on('connect', apply)
}
