/**
 * One socket write per event-loop turn instead of one per MQTT packet.
 * mqtt-packet corks a stream only until `process.nextTick`, so every reply a
 * hub sends from its own promise continuation becomes its own `writev`
 * system call (about a tenth of a loaded hub's CPU profile). Holding the cork
 * until `setImmediate` sends everything written during one turn (a burst of
 * answers, acknowledgements) in one call; nothing waits beyond that turn.
 *
 * `coalesceWrites` serves the embedded broker's sockets. An MQTT client's
 * socket takes `batchClientWrites` instead: a corked stream also holds back
 * its write callbacks, and the first try of corking the hub's and the
 * vehicles' clients made the hub on Mosquitto fall from 0.58x to 0.10x of
 * the bare ceiling (bench/hub-mqtt.ts).
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

/**
 * Batch the socket writes of an MQTT client (mqtt.js) per event-loop turn,
 * now and after every reconnect: every packet written during one turn (the
 * PUBACKs of a burst of requests, their answers) leaves in one `writev` at
 * `setImmediate`. Used on the hub's connection to its broker (each packet
 * used to be its own system call, about a third of the hub's CPU profile on
 * Mosquitto) and on the vehicles' request client (./rpc-client.ts: its
 * requests, and the PUBACKs of QoS 1 answers).
 *
 * Unlike a cork, a write's callback runs at once (next tick) and `write()`
 * reports the socket's own backpressure, so mqtt.js goes on parsing and
 * acknowledging the next packets of the turn. A callback only ever meant
 * "handed to the socket": a QoS 1 PUBLISH stays in mqtt.js's outgoing store
 * until the broker's PUBACK, whatever the socket did with it. `end()` sends
 * what is batched first; a destroyed socket drops it, as it drops what the
 * kernel had not sent.
 */
export function batchClientWrites(client: { stream?: unknown; on(event: 'connect', listener: () => void): unknown }): void {
  const apply = (): void => {
    const stream = client.stream as Writable | undefined
    if (stream && !coalesced.has(stream)) batchWrites(stream)
  }
  apply()
  client.on('connect', apply)
}

type Chunk = [chunk: unknown, encoding: BufferEncoding | undefined]

function batchWrites(stream: Writable): void {
  coalesced.add(stream)
  const write = stream.write.bind(stream) as (chunk: unknown, encoding?: BufferEncoding, cb?: unknown) => boolean
  const end = stream.end.bind(stream) as (...args: unknown[]) => Writable
  let pending: Chunk[] = []
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    const batch = pending
    pending = []
    if (stream.destroyed || batch.length === 0) return
    stream.cork()
    for (const [chunk, encoding] of batch) write(chunk, encoding)
    stream.uncork()
  }
  stream.write = function (chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    if (typeof encoding === 'function') {
      cb = encoding
      encoding = undefined
    }
    if (stream.destroyed || stream.writableEnded) return write(chunk, encoding as BufferEncoding | undefined, cb)
    pending.push([chunk, encoding as BufferEncoding | undefined])
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
    if (typeof cb === 'function') process.nextTick(cb as () => void)
    return !stream.writableNeedDrain
  } as Writable['write']
  stream.end = function (...args: unknown[]): Writable {
    flush()
    return end(...args)
  } as Writable['end']
}
