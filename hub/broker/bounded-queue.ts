/**
 * The embedded broker's in-memory persistence with a bound on each session's
 * queue of QoS 1/2 messages: a persistent session whose client is away (or
 * never acknowledges) keeps at most `maxQueued` messages; newer ones are
 * dropped for it, as Mosquitto's `max_queued_messages` does. Without it a
 * vehicle's offline sessions could pin every reply the hub ever sent.
 */
import memory from 'aedes-persistence'

/** The promise-returning side of aedes-persistence 10 that aedes 2 calls (its typings only list callbacks). */
export interface QueuePersistence {
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void>
  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: object): Promise<void>
  outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<object | undefined>
  outgoingStream(client: { id: string }): AsyncIterable<{ messageId?: number }>
  cleanSubscriptions(client: { id: string }): Promise<void>
  delWill(client: { id: string; brokerId: string }): Promise<unknown>
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>
}

export interface BoundedPersistence {
  /** Pass to aedes as `persistence`. */
  persistence: QueuePersistence
  /** Messages queued for a session now. */
  queued(clientId: string): number
  /** Messages dropped so far because a session's queue was full. */
  readonly dropped: number
  /** Remove a session's subscriptions and queued messages (its Will too). */
  wipe(clientId: string, brokerId: string): Promise<void>
}

export function boundedMemoryPersistence(maxQueued: number, onDrop?: (clientId: string) => void): BoundedPersistence {
  const p = (memory as unknown as () => QueuePersistence)()
  const counts = new Map<string, number>()
  let dropped = 0
  const add = (id: string): void => {
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }

  const enqueue = p.outgoingEnqueue.bind(p)
  const enqueueCombi = p.outgoingEnqueueCombi.bind(p)
  const clear = p.outgoingClearMessageId.bind(p)
  // A connected persistent client: queued until its PUBACK (delivery is already under way, so not dropped here).
  p.outgoingEnqueue = async (sub, packet) => {
    await enqueue(sub, packet)
    add(sub.clientId)
  }
  // Sessions whose clients are away: only those with room get the message.
  p.outgoingEnqueueCombi = async (subs, packet) => {
    const room = subs.filter((s) => {
      if ((counts.get(s.clientId) ?? 0) < maxQueued) return true
      dropped++
      onDrop?.(s.clientId)
      return false
    })
    if (room.length === 0) return
    await enqueueCombi(room, packet)
    for (const s of room) add(s.clientId)
  }
  p.outgoingClearMessageId = async (client, packet) => {
    const removed = await clear(client, packet)
    if (removed !== undefined) {
      const n = (counts.get(client.id) ?? 1) - 1
      if (n > 0) counts.set(client.id, n)
      else counts.delete(client.id)
    }
    return removed
  }

  return {
    persistence: p,
    queued: (clientId) => counts.get(clientId) ?? 0,
    get dropped() {
      return dropped
    },
    async wipe(clientId, brokerId) {
      await p.cleanSubscriptions({ id: clientId })
      await p.delWill({ id: clientId, brokerId })
      for await (const packet of p.outgoingStream({ id: clientId })) await p.outgoingClearMessageId({ id: clientId }, packet)
    },
  }
}
