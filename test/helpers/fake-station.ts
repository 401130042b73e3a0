/**
 * A station that is not ours: a plain MQTT client that speaks docs/protocol.md on
 * the station topics (retained state, events with seq, cmd -> cmd/res) and
 * does exactly what the test scripts, including answers the protocol allows
 * but our agent never gives (`{id, ok}` without `meterWh`) and clocks that are
 * wrong. Not the station agent: nothing here reads a meter.
 */
import { connectAsync, type MqttClient } from 'mqtt'
import { StationAck, StationCommand, formatTime, parseJsonObject, topics, type StationCommandResult, type StationEvent, type StationState } from '../../protocol/index.js'
import { waitUntil } from './net.js'

/** The body of the `cmd/res` answer (the id is added), or null to stay silent. */
export type CommandScript = (cmd: StationCommand, station: FakeStation) => Omit<StationCommandResult, 'id'> | null | Promise<Omit<StationCommandResult, 'id'> | null>

type EventBody = StationEvent extends infer E ? (E extends StationEvent ? Omit<E, 'seq'> : never) : never

export class FakeStation {
  readonly client: MqttClient
  readonly stationId: string
  /** Every command received, in order. */
  readonly commands: StationCommand[] = []
  /** Highest seq the hub acknowledged so far (0 before any). */
  acked = 0
  /** Every ack received, in order. */
  readonly acks: StationAck[] = []
  answer: CommandScript
  #seq = 0
  #closed = false

  private constructor(client: MqttClient, stationId: string, answer: CommandScript) {
    this.client = client
    this.stationId = stationId
    this.answer = answer
    client.on('message', (topic, payload) => {
      this.#onMessage(topic, payload).catch((err: unknown) => {
        // An answer cut off by the test closing the station is expected; anything else is a broken script.
        if (!this.#closed) throw err
      })
    })
  }

  /** Log in as the station (username and client id = stationId), subscribe to cmd and ack. */
  static async connect(url: string, stationId: string, password: string, answer: CommandScript): Promise<FakeStation> {
    const client = await connectAsync(url, { protocolVersion: 5, clientId: stationId, username: stationId, password, reconnectPeriod: 0, connectTimeout: 5000 })
    const s = new FakeStation(client, stationId, answer)
    await client.subscribeAsync([topics.station(stationId, 'cmd'), topics.station(stationId, 'ack')], { qos: 1 })
    return s
  }

  /** Publish the retained state; `ts` is whatever the station's clock says. */
  async state(over: Partial<StationState> = {}): Promise<void> {
    const body: StationState = { online: true, status: 'available', sessionId: null, meterWh: null, agentVersion: 'other-vendor/1.0', ts: formatTime(Date.now()), ...over }
    await this.client.publishAsync(topics.station(this.stationId, 'state'), JSON.stringify(body), { qos: 1, retain: true })
  }

  /** Publish an event with the next seq and wait until the hub acknowledges it. Resolves the seq. */
  async event(body: EventBody): Promise<number> {
    const seq = ++this.#seq
    await this.publishEvent(seq, body)
    await waitUntil(() => this.acked >= seq, 5000, `ack of event ${seq}`)
    return seq
  }

  /** Publish an event with exactly this seq (no epoch, as other vendors' stations send), without waiting. */
  async publishEvent(seq: number, body: EventBody): Promise<void> {
    await this.client.publishAsync(topics.station(this.stationId, 'events'), JSON.stringify({ seq, ...body }), { qos: 1 })
  }

  /** Resolve the first command with this op received so far or later. */
  command(op: StationCommand['op']): Promise<StationCommand> {
    return waitUntil(() => this.commands.find((c) => c.op === op), 5000, `a ${op} command`)
  }

  close(): Promise<void> {
    this.#closed = true
    return this.client.endAsync(true)
  }

  async #onMessage(topic: string, payload: Buffer): Promise<void> {
    const json = parseJsonObject(payload)
    if (!json.ok) return
    if (topic === topics.station(this.stationId, 'ack')) {
      const ack = StationAck.safeParse(json.value)
      if (!ack.success) return
      this.acks.push(ack.data)
      this.acked = Math.max(this.acked, ack.data.seq)
      return
    }
    const cmd = StationCommand.safeParse(json.value)
    if (!cmd.success) return
    this.commands.push(cmd.data)
    const res = await this.answer(cmd.data, this)
    if (res) await this.client.publishAsync(topics.station(this.stationId, 'cmd/res'), JSON.stringify({ id: cmd.data.id, ...res }), { qos: 1 })
  }
}
