/**
 * A vehicle that names its own request ids (docs/protocol.md "Repeated
 * requests") and, like the vehicle CLI, repeats a request that got no answer
 * in time with the SAME id: QoS 1 requests over MQTT 5, each answer matched
 * by its id on the vehicle's own response topic.
 */
import { randomBytes } from 'node:crypto'
import { connectAsync, type MqttClient } from 'mqtt'
import { ResponseEnvelope, topics, type WireError } from '../../protocol/index.js'

export type Answer = { ok: true; result: unknown } | { ok: false; error: WireError }

export interface CallOutcome {
  answer: Answer
  /** How many times the request was sent (1: answered the first time). */
  sends: number
}

export class IdVehicle {
  readonly vehicleId: string
  readonly hubId: string
  readonly client: MqttClient
  readonly #reply: string
  readonly #waiting = new Map<string, (a: Answer) => void>()

  private constructor(client: MqttClient, hubId: string, vehicleId: string) {
    this.client = client
    this.hubId = hubId
    this.vehicleId = vehicleId
    this.#reply = `${topics.vehicleResponse(vehicleId)}/${randomBytes(4).toString('hex')}`
    client.on('message', (topic, payload) => {
      if (topic !== this.#reply) return
      const env = ResponseEnvelope.safeParse(JSON.parse(payload.toString()))
      if (!env.success || env.data.id === null) return
      const done = this.#waiting.get(env.data.id)
      if (!done) return
      this.#waiting.delete(env.data.id)
      done(env.data.ok ? { ok: true, result: env.data.result } : { ok: false, error: env.data.error as WireError })
    })
  }

  static async connect(url: string, hubId: string, vehicleId: string, password: string): Promise<IdVehicle> {
    const client = await connectAsync(url, { clientId: vehicleId, username: vehicleId, password, protocolVersion: 5, reconnectPeriod: 200, connectTimeout: 5000 })
    const v = new IdVehicle(client, hubId, vehicleId)
    await client.subscribeAsync(v.#reply, { qos: 1 })
    return v
  }

  /** Send once; null when no answer came within `timeoutMs`. */
  async send(op: string, args: object, id: string, timeoutMs: number): Promise<Answer | null> {
    let timer: NodeJS.Timeout | undefined
    const answered = new Promise<Answer | null>((resolve) => {
      this.#waiting.set(id, resolve)
      timer = setTimeout(() => {
        // A later send of the same id waits on its own.
        if (this.#waiting.get(id) === resolve) this.#waiting.delete(id)
        resolve(null)
      }, timeoutMs)
    })
    this.client.publish(topics.hubRequest(this.hubId, this.vehicleId), JSON.stringify({ id, op, args }), {
      qos: 1,
      properties: { responseTopic: this.#reply, correlationData: Buffer.from(id) },
    })
    const a = await answered
    clearTimeout(timer)
    return a
  }

  /**
   * Send until answered, with the same id each time: after a timeout, after
   * IDEMPOTENCY_IN_PROGRESS (the first run is still going, or lapsing on a
   * replica that died) and after STORAGE_UNAVAILABLE (nothing was changed;
   * docs/error-codes.md: the same request is safe to send again). Throws after `maxSends`.
   */
  async call(op: string, args: object, id: string, o: { timeoutMs?: number; maxSends?: number } = {}): Promise<CallOutcome> {
    const maxSends = o.maxSends ?? 50
    for (let sends = 1; sends <= maxSends; sends++) {
      const answer = await this.send(op, args, id, o.timeoutMs ?? 2000)
      if (answer === null) continue
      if (!answer.ok && (answer.error.code === 'IDEMPOTENCY_IN_PROGRESS' || answer.error.code === 'STORAGE_UNAVAILABLE')) {
        await new Promise((r) => setTimeout(r, 100))
        continue
      }
      return { answer, sends }
    }
    throw new Error(`${this.vehicleId}: no final answer to ${op} ${id} after ${maxSends} sends`)
  }

  async close(): Promise<void> {
    await this.client.endAsync(true)
  }
}
