/**
 * Doubles for the station agent's injected parts: an in-memory outbox (the
 * StationOutbox contract, kept in memory; pass the same one to successive
 * agents to stand for the file surviving a restart) and a link that records
 * what the agent publishes and lets the test play the hub.
 */
import { EventEmitter } from 'node:events'
import { newId, StationEvent, type CardAuthRequest, type StationAck, type StationCommandResult, type StationState, type Telemetry } from '../../protocol/index.js'
import type { HubLink, LinkEvents } from '../../station/link.js'
import { KEEP_ACKED, type AckOutcome, type EndedSession, type EventInput, type PersistedSession, type StationOutbox } from '../../station/outbox.js'

const KEEP = 1000

export class MemoryOutbox implements StationOutbox {
  #lastSeq = 0
  #ackedSeq = 0
  readonly epoch: string = newId('ep')
  #events: StationEvent[] = []
  #session: PersistedSession | null = null
  #ended = new Map<string, EndedSession>()
  #commands = new Map<string, StationCommandResult>()
  disabled = false
  closed = false

  get lastSeq(): number {
    return this.#lastSeq
  }

  get ackedSeq(): number {
    return this.#ackedSeq
  }

  append(input: EventInput, change: { session?: PersistedSession | null; ended?: EndedSession } = {}): StationEvent {
    const event = StationEvent.parse({ ...input, seq: this.#lastSeq + 1, epoch: this.epoch })
    this.#events.push(event)
    this.#lastSeq = event.seq
    if (change.session !== undefined) this.#session = change.session && { ...change.session }
    if (change.ended) {
      this.#ended.delete(change.ended.sessionId)
      this.#ended.set(change.ended.sessionId, { ...change.ended })
      trim(this.#ended)
    }
    return event
  }

  pending(fromSeq = 0): StationEvent[] {
    return this.#events.filter((e) => e.seq > this.#ackedSeq && e.seq >= fromSeq)
  }

  get pendingCount(): number {
    return this.#events.filter((e) => e.seq > this.#ackedSeq).length
  }

  ack(ack: StationAck): AckOutcome {
    if (ack.epoch !== undefined && ack.epoch !== this.epoch) return { applied: false, reason: 'other-epoch' }
    const beyondLast = ack.seq > this.#lastSeq
    let acked = Math.max(this.#ackedSeq, Math.min(ack.seq, this.#lastSeq))
    const out: AckOutcome = { applied: true, beyondLast }
    if (ack.resendFrom !== undefined && ack.resendFrom <= this.#lastSeq) {
      acked = Math.min(acked, ack.resendFrom - 1)
      if (this.#events.some((e) => e.seq === ack.resendFrom)) out.resendFrom = ack.resendFrom
      else out.lost = ack.resendFrom
    }
    this.#ackedSeq = acked
    this.#events = this.#events.filter((e) => e.seq > acked - KEEP_ACKED)
    return out
  }

  currentSession(): PersistedSession | null {
    return this.#session && { ...this.#session }
  }

  endedSession(sessionId: string): EndedSession | undefined {
    const e = this.#ended.get(sessionId)
    return e && { ...e }
  }

  commandResult(id: string): StationCommandResult | undefined {
    return this.#commands.get(id)
  }

  saveCommandResult(result: StationCommandResult, _now: number): void {
    this.#commands.delete(result.id)
    this.#commands.set(result.id, result)
    trim(this.#commands)
  }

  close(): void {
    this.closed = true
  }
}

function trim<K, V>(m: Map<K, V>): void {
  for (const k of m.keys()) {
    if (m.size <= KEEP) return
    m.delete(k)
  }
}

/** A link with no network: `connect()`/`drop()` play the broker, `command()`/`ack()` play the hub. */
export class LinkDouble extends EventEmitter<LinkEvents> implements HubLink {
  readonly states: StationState[] = []
  readonly events: StationEvent[] = []
  readonly telemetry: Telemetry[] = []
  readonly results: StationCommandResult[] = []
  readonly authRequests: CardAuthRequest[] = []
  willState: (() => StationState) | undefined
  closedWith: StationState | undefined | null = null
  destroyed = false
  #connected = false
  #offlineSince: number
  readonly #now: () => number

  constructor(now: () => number) {
    super()
    this.#now = now
    this.#offlineSince = now()
  }

  get connected(): boolean {
    return this.#connected
  }

  offlineMs(): number | null {
    return this.#connected ? null : Math.max(0, this.#now() - this.#offlineSince)
  }

  start(willState: () => StationState): void {
    this.willState = willState
  }

  /** The broker accepted the connection (emitted asynchronously, as the contract says). */
  connect(): void {
    this.#connected = true
    setImmediate(() => this.emit('connect', false))
  }

  drop(): void {
    this.#connected = false
    this.#offlineSince = this.#now()
    setImmediate(() => this.emit('disconnect'))
  }

  command(body: object): void {
    setImmediate(() => this.emit('cmd', Buffer.from(JSON.stringify(body))))
  }

  ack(seq: number): void {
    setImmediate(() => this.emit('ack', Buffer.from(JSON.stringify({ seq }))))
  }

  publishState(state: StationState): Promise<void> {
    return this.#record(this.states, state)
  }

  publishEvent(event: StationEvent): Promise<void> {
    return this.#record(this.events, event)
  }

  publishTelemetry(t: Telemetry): Promise<void> {
    return this.#record(this.telemetry, t)
  }

  publishResult(r: StationCommandResult): Promise<void> {
    return this.#record(this.results, r)
  }

  publishAuth(req: CardAuthRequest): Promise<void> {
    return this.#record(this.authRequests, req)
  }

  /** The hub answers a card request. */
  authAnswer(body: object): void {
    setImmediate(() => this.emit('authRes', Buffer.from(JSON.stringify(body))))
  }

  async close(finalState: StationState | undefined): Promise<void> {
    if (finalState && this.#connected) this.states.push(finalState)
    this.closedWith = finalState
    this.#connected = false
  }

  destroy(): void {
    this.destroyed = true
    this.#connected = false
  }

  #record<T>(list: T[], item: T): Promise<void> {
    if (!this.willState) return Promise.reject(new Error('link not started'))
    list.push(item)
    return Promise.resolve()
  }
}
