/**
 * Acks from the hub (`voltway/v1/stations/S/ack`, docs/protocol.md "Events"):
 * validate, apply to the outbox, and decide whether to send events again now
 * because the hub asked for them (`resendFrom`). A request already being
 * served is not served twice: while the resend is on its way the hub may
 * repeat it for each later event it stores, and answering each would send the
 * backlog over and over. The agent's periodic resend covers a resend that got lost.
 */
import type { Logger } from 'pino'
import { parseJsonObject, StationAck } from '../protocol/index.js'
import type { StationOutbox } from './outbox.js'

export class AckHandler {
  readonly #outbox: StationOutbox
  readonly #log: Logger
  /** The resendFrom being served, until an ack shows the hub has it. */
  #serving: number | undefined

  constructor(outbox: StationOutbox, log: Logger) {
    this.#outbox = outbox
    this.#log = log
  }

  /** Apply one ack payload. Returns the seq to send the pending events again from, now, or undefined. Never throws. */
  handle(payload: Buffer | string): number | undefined {
    const json = parseJsonObject(payload)
    const parsed = json.ok ? StationAck.safeParse(json.value) : undefined
    if (!parsed?.success) {
      this.#log.warn({ reason: json.ok ? 'not an ack {seq, epoch?, resendFrom?}' : json.reason }, 'ignoring an invalid ack')
      return undefined
    }
    const ack = parsed.data
    const out = this.#outbox.ack(ack)
    if (!out.applied) {
      this.#log.warn({ epoch: ack.epoch, ours: this.#outbox.epoch, seq: ack.seq }, 'ignoring an ack for another outbox epoch')
      return undefined
    }
    if (out.beyondLast) this.#log.warn({ seq: ack.seq, lastSeq: this.#outbox.lastSeq }, 'ack for a seq never sent')
    if (out.lost !== undefined) {
      this.#log.error({ from: out.lost, ackedSeq: this.#outbox.ackedSeq }, 'the hub asks for events this outbox no longer keeps; they were acknowledged before and cannot be sent again')
    }
    this.#log.debug({ seq: ack.seq, ackedSeq: this.#outbox.ackedSeq, pending: this.#outbox.pendingCount }, 'events acknowledged')
    if (this.#serving !== undefined && ack.seq >= this.#serving) this.#serving = undefined
    if (out.resendFrom === undefined || out.resendFrom === this.#serving) return undefined
    this.#serving = out.resendFrom
    this.#log.info({ from: out.resendFrom }, 'the hub lacks events; sending them again')
    return out.resendFrom
  }
}
