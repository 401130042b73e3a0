/**
 * Client side of the vehicle request/response pattern: one persistent MQTT
 * connection, many requests in flight, each matched to its reply by id.
 *
 * MQTT 3.1.1: replies arrive on `voltway/v1/vehicles/V/res`.
 * MQTT 5: each client also gets its own Response Topic under
 * `voltway/v1/vehicles/V/res/<instance>` and sends Correlation Data, so two
 * tools logged in as the same vehicle never see each other's answers.
 *
 * Repeated requests (docs/protocol.md "Repeated requests"): with `retries` N,
 * a request whose answer has not come within `timeoutMs` is sent again,
 * unchanged and with the same id, up to N times, each copy waiting
 * `timeoutMs` again; then TIMEOUT. The hub runs a mutating op once per
 * (vehicle, id) and answers every copy with the first answer, so an answer
 * lost on the way (a hub replica that died before replying) costs a repeat,
 * not a second booking. The first answer to any copy settles the request. A
 * copy is only sent once a wait has passed in which the hub answers every
 * request it got, so copies do not race a first run that is merely slow; an
 * IDEMPOTENCY_IN_PROGRESS answer to a copy (the first run still holds the id)
 * is not the request's answer: the wait goes on.
 */
import { randomBytes } from 'node:crypto'
import type { IClientPublishOptions, MqttClient } from 'mqtt'
import type { IPublishPacket } from 'mqtt-packet'
import { VoltwayError, isErrorCode } from './errors.js'
import { parseJsonObject } from './json.js'
import { useNoDelay } from './no-delay.js'
import { batchClientWrites } from './coalesce-writes.js'
import { OPS, type OpArgsInput, type OpName, type OpResult } from './schemas/ops.js'
import { RequestId, ResponseEnvelope } from './schemas/envelope.js'
import { topics } from './topics.js'

export interface RpcClientOptions {
  client: MqttClient
  hubId: string
  vehicleId: string
  /** Default per-request timeout. */
  timeoutMs?: number
  /** Validate results against the op's schema (on by default; a malformed reply becomes INTERNAL). */
  validateResults?: boolean
  /** How many times a request unanswered after `timeoutMs` is sent again with the same id before TIMEOUT (see above). Default 0. */
  retries?: number
}

export interface RequestOptions {
  timeoutMs?: number
  /** Ask another hub than the default one. */
  hubId?: string
  /** Override the client's `retries` for this request. */
  retries?: number
  /**
   * The request id to send (default: a new one): 1 to 128 characters, no control characters. Give the id
   * of a request whose answer never came to send it again: the hub answers a repeated id of a mutating op
   * with the first answer and acts once (docs/protocol.md "Repeated requests"). BAD_REQUEST when it is
   * malformed or a request of this client with that id is still waiting.
   */
  requestId?: string
}

interface Pending {
  op: OpName
  resolve: (v: unknown) => void
  reject: (e: VoltwayError) => void
  timer: NodeJS.Timeout
  /** Copies sent so far, the first included. */
  sent: number
}

export interface RpcClient {
  start(): Promise<void>
  request<O extends OpName>(op: O, args: OpArgsInput<O>, opts?: RequestOptions): Promise<OpResult<O>>
  /** Reject every pending request and stop listening; does not close the MQTT connection. */
  close(): Promise<void>
  readonly pending: number
}

export function createRpcClient(opts: RpcClientOptions): RpcClient {
  const { client, vehicleId } = opts
  const defaultTimeout = opts.timeoutMs ?? 10_000
  const defaultRetries = opts.retries ?? 0
  const validate = opts.validateResults ?? true
  const instance = randomBytes(6).toString('hex')
  const v5 = client.options.protocolVersion === 5
  const replyTopic = v5 ? `${topics.vehicleResponse(vehicleId)}/${instance}` : topics.vehicleResponse(vehicleId)
  const pending = new Map<string, Pending>()
  let counter = 0
  let closed = false

  const onMessage = (topic: string, payload: Buffer, _packet: IPublishPacket): void => {
    if (topic !== replyTopic) return
    const json = parseJsonObject(payload, 16 * 1024 * 1024)
    if (!json.ok) return
    const env = ResponseEnvelope.safeParse(json.value)
    if (!env.success || env.data.id === null) return
    const p = pending.get(env.data.id)
    if (!p) return
    // A repeat reached the hub while an earlier copy still ran there (or its replica died less than a claim
    // lease ago): that copy's answer, or the next repeat, settles the request.
    if (!env.data.ok && env.data.error.code === 'IDEMPOTENCY_IN_PROGRESS' && p.sent > 1) return
    pending.delete(env.data.id)
    clearTimeout(p.timer)
    if (!env.data.ok) {
      const e = env.data.error
      p.reject(new VoltwayError(isErrorCode(e.code) ? e.code : 'INTERNAL', e.message, e.details))
      return
    }
    if (!validate) return p.resolve(env.data.result)
    const result = OPS[p.op].result.safeParse(env.data.result)
    if (result.success) p.resolve(result.data)
    else p.reject(new VoltwayError('INTERNAL', `hub sent a malformed ${p.op} result`))
  }

  return {
    get pending() {
      return pending.size
    },
    async start() {
      useNoDelay(client)
      // A burst of requests and the PUBACKs of QoS 1 answers leave in one write per turn (./coalesce-writes.ts).
      batchClientWrites(client)
      client.on('message', onMessage)
      await client.subscribeAsync(replyTopic, { qos: 1 })
    },
    request<O extends OpName>(op: O, args: OpArgsInput<O>, ropts: RequestOptions = {}): Promise<OpResult<O>> {
      if (closed) return Promise.reject(new VoltwayError('INTERNAL', 'client is closed'))
      if (ropts.requestId !== undefined) {
        if (!RequestId.safeParse(ropts.requestId).success) return Promise.reject(new VoltwayError('BAD_REQUEST', 'request id must be 1 to 128 characters, without control characters', { id: ropts.requestId }))
        if (pending.has(ropts.requestId)) return Promise.reject(new VoltwayError('BAD_REQUEST', `request id ${ropts.requestId} is already waiting for its answer on this client`, { id: ropts.requestId }))
      }
      const id = ropts.requestId ?? `${instance}-${(counter++).toString(36)}`
      const timeoutMs = ropts.timeoutMs ?? defaultTimeout
      const hubId = ropts.hubId ?? opts.hubId
      const tries = Math.max(0, Math.floor(ropts.retries ?? defaultRetries)) + 1
      const body = JSON.stringify({ id, op, args })
      const publishOpts: IClientPublishOptions = { qos: 1 }
      if (v5) publishOpts.properties = { responseTopic: replyTopic, correlationData: Buffer.from(id) }
      return new Promise<OpResult<O>>((resolve, reject) => {
        const send = (): void => {
          client.publish(topics.hubRequest(hubId, vehicleId), body, publishOpts, (err) => {
            if (!err) return
            const p = pending.get(id)
            if (!p) return
            pending.delete(id)
            clearTimeout(p.timer)
            p.reject(new VoltwayError('PEER_UNAVAILABLE', `cannot publish to hub ${hubId}: ${err.message}`, { op, hubId, publish: 'failed' }))
          })
        }
        const onTimer = (): void => {
          const p = pending.get(id)
          if (!p) return
          if (p.sent < tries) {
            p.sent++
            p.timer = setTimeout(onTimer, timeoutMs)
            send()
            return
          }
          pending.delete(id)
          // Each copy waits timeoutMs: with copies, say both the wait per copy and the wait in all.
          const waited = tries > 1 ? `${timeoutMs} ms per copy, sent ${tries} times (${tries * timeoutMs} ms in all) with request id ${id}` : `${timeoutMs} ms`
          // The id goes with it: the request, repeated with that id, is acted on once.
          reject(new VoltwayError('TIMEOUT', `no answer to ${op} from hub ${hubId} within ${waited}`, { op, hubId, timeoutMs, id, tries }))
        }
        pending.set(id, { op, resolve: resolve as (v: unknown) => void, reject, timer: setTimeout(onTimer, timeoutMs), sent: 1 })
        send()
      })
    },
    async close() {
      closed = true
      client.removeListener('message', onMessage)
      for (const [id, p] of pending) {
        clearTimeout(p.timer)
        pending.delete(id)
        p.reject(new VoltwayError('TIMEOUT', 'client closed before the answer came'))
      }
    },
  }
}
