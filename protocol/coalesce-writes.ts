/**
 * One socket write per event-loop turn instead of one per MQTT packet.
 * mqtt-packet corks a stream only until `process.nextTick`, so every reply a
 * hub sends from its own promise continuation becomes its own `writev`
 * system call (about a tenth of a loaded hub's CPU profile). Holding the cork
 * until `setImmediate` sends everything written during one turn (a burst of
 * answers, acknowledgements) in one call; nothing waits beyond that turn.
 *
 * Used on the embedded broker's sockets. Not on MQTT clients: their
 * PUBACKs then wait for the end of the turn, and a broker that bounds the
 * unacknowledged messages in flight per client (Mosquitto,
 * `max_inflight_messages` 20) sends the next ones that much later; measured
 * in bench/hub-mqtt.ts, the hub on Mosquitto fell from 0.58x to 0.10x of
 * the bare ceiling with it.
 */
import type { Writable } from 'node:stream'

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
