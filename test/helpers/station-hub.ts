/**
 * A "hub double" for station agent tests: plays the hub's side of the
 * station topics (docs/protocol.md "Station agents"). Sends commands, collects
 * states, events and telemetry, and acks events (automatically, or only when
 * told, to test the outbox).
 */
import { connectAsync, type MqttClient } from 'mqtt'
import {
  parseJsonObject,
  parseStationTopic,
  StationCommandResult,
  StationEvent,
  StationState,
  Telemetry,
  topics,
  type StationCommand,
} from '../../protocol/index.js'
import { waitUntil } from './net.js'

export interface HubDoubleOptions {
  /** Ack every event as it arrives (default true). */
  autoAck?: boolean
  clientId?: string
}

let nextCmd = 0

export class HubDouble {
  readonly client: MqttClient
  readonly stationId: string
  /** Every event delivery, duplicates included, in arrival order. */
  readonly deliveries: StationEvent[] = []
  readonly states: StationState[] = []
  readonly telemetry: Telemetry[] = []
  readonly results = new Map<string, StationCommandResult>()
  /** Payloads on station topics that did not validate (the agent must never send one). */
  readonly invalid: string[] = []
  autoAck: boolean

  private constructor(client: MqttClient, stationId: string, opts: HubDoubleOptions) {
    this.client = client
    this.stationId = stationId
    this.autoAck = opts.autoAck ?? true
    client.on('message', (topic, payload) => this.#onMessage(topic, payload))
  }

  static async connect(url: string, stationId: string, opts: HubDoubleOptions = {}): Promise<HubDouble> {
    const client = await connectAsync(url, {
      protocolVersion: 5,
      clientId: opts.clientId ?? `hub-double-${process.pid}-${++nextCmd}`,
      username: 'hub.test',
      password: 'hub',
      reconnectPeriod: 100,
      connectTimeout: 5000,
    })
    const hub = new HubDouble(client, stationId, opts)
    const t = (k: Parameters<typeof topics.station>[1]) => topics.station(stationId, k)
    await client.subscribeAsync([t('state'), t('events'), t('telemetry'), t('cmd/res')], { qos: 1 })
    return hub
  }

  /** Events by seq, each once (what a hub stores). */
  get events(): StationEvent[] {
    const bySeq = new Map<number, StationEvent>()
    for (const e of this.deliveries) if (!bySeq.has(e.seq)) bySeq.set(e.seq, e)
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq)
  }

  get lastState(): StationState | undefined {
    return this.states.at(-1)
  }

  /** Send a command and wait for its answer. */
  async command(cmd: Omit<StationCommand, 'id'> & { id?: string }, timeoutMs = 5000): Promise<StationCommandResult> {
    const id = cmd.id ?? `c${process.pid}-${++nextCmd}`
    await this.sendRaw(JSON.stringify({ ...cmd, id }))
    return waitUntil(() => this.results.get(id), timeoutMs, `answer to command ${id} (${cmd.op})`)
  }

  /** Publish anything on the station's cmd topic. */
  async sendRaw(payload: string | Buffer): Promise<void> {
    await this.client.publishAsync(topics.station(this.stationId, 'cmd'), payload, { qos: 1 })
  }

  async ack(seq: number): Promise<void> {
    await this.client.publishAsync(topics.station(this.stationId, 'ack'), JSON.stringify({ seq }), { qos: 1 })
  }

  async ackRaw(payload: string): Promise<void> {
    await this.client.publishAsync(topics.station(this.stationId, 'ack'), payload, { qos: 1 })
  }

  waitEvent(pred: (e: StationEvent) => boolean, what: string, timeoutMs = 5000): Promise<StationEvent> {
    return waitUntil(() => this.deliveries.find(pred), timeoutMs, what)
  }

  waitState(pred: (s: StationState) => boolean, what: string, timeoutMs = 5000): Promise<StationState> {
    return waitUntil(() => {
      const s = this.lastState
      return s && pred(s) ? s : undefined
    }, timeoutMs, what)
  }

  async close(): Promise<void> {
    await this.client.endAsync(true)
  }

  #onMessage(topic: string, payload: Buffer): void {
    const parsed = parseStationTopic(topic)
    if (!parsed || parsed.stationId !== this.stationId) return
    const json = parseJsonObject(payload)
    if (!json.ok) {
      if (payload.length > 0) this.invalid.push(`${topic}: ${json.reason}`)
      return // an empty retained payload clears state
    }
    const record = <T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, into: (v: T) => void): void => {
      const r = schema.safeParse(json.value)
      if (r.success) into(r.data)
      else this.invalid.push(`${topic}: ${payload.toString()}`)
    }
    switch (parsed.kind) {
      case 'state':
        return record(StationState, (s) => this.states.push(s))
      case 'telemetry':
        return record(Telemetry, (t) => this.telemetry.push(t))
      case 'cmd/res':
        return record(StationCommandResult, (r) => this.results.set(r.id, r))
      case 'events':
        return record(StationEvent, (e) => {
          this.deliveries.push(e)
          if (this.autoAck) void this.ack(e.seq).catch(() => {})
        })
      default:
        return
    }
  }
}
