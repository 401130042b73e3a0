/**
 * Server side of the vehicle request/response pattern (docs/protocol.md): subscribe
 * to `voltway/v1/hubs/H/req/+`, validate, dispatch to a handler table, reply.
 *
 * The vehicle id comes from the topic (the broker's ACL ties it to the
 * username), never from the payload. Replies go to `voltway/v1/vehicles/V/res`,
 * or to an MQTT 5 Response Topic only when it lies inside V's own namespace;
 * Correlation Data is echoed [MQTT 5 §4.10]. Nothing a client sends can make
 * an exception escape: bad JSON, unknown ops and invalid args are coded errors.
 *
 * What a vehicle can make the server hold is bounded: its requests run a few
 * at a time, in turn with every other vehicle's (FairScheduler), and beyond
 * `perVehicleLimit` running or waiting it is answered RATE_LIMITED. A
 * retained request is a stale replay, never run [MQTT-3.3.1-9]. Replies carry
 * an MQTT 5 Message Expiry, so a reply queued for an absent client does not
 * stay in a broker for the life of its session. A reply goes at the QoS of
 * its request (QoS 0 for 0, QoS 1 otherwise).
 */
import type { MqttClient } from 'mqtt'
import { VoltwayError, toVoltwayError, type WireError } from './errors.js'
import { FairScheduler } from './fair-scheduler.js'
import { parseJsonObject } from './json.js'
import { AnswerTooLarge, mqttRequestTransport, type RequestPacket, type RequestTransport } from './rpc-transport.js'
import { OPS, isOpName, type OpArgs, type OpName, type OpResult } from './schemas/ops.js'
import { RequestId } from './schemas/envelope.js'
import { isInVehicleNamespace, parseHubRequestTopic, topics } from './topics.js'
import { invalidMessage, issuesOf } from './validation.js'

export interface RequestContext {
  hubId: string
  vehicleId: string
  requestId: string
  op: OpName
  /**
   * When this request id was first seen (epoch ms, the clock of the hub replica that first claimed it),
   * set for the mutating ops by the hub's idempotency layer (docs/protocol.md "Repeated requests"): a
   * re-run of a request whose first run's answer was lost keeps its first run's time, so an op can act
   * on what existed then (reservation.cancel `{all: true}`). Absent otherwise: an op acts as of now.
   */
  firstSeenAtMs?: number
  /**
   * When this process took the request off its connection, ms on its monotonic clock
   * (`performance.now()`), so a read may be answered from a look at the database taken since
   * (BookingQuery.receivedAt). Set by this server for every request it runs.
   */
  receivedAt?: number
  /** The same instant on the server's `clock` (epoch ms): "now" for a read answered as of when it came in. */
  receivedAtMs?: number
}

export type OpHandler<O extends OpName> = (args: OpArgs<O>, ctx: RequestContext) => Promise<OpResult<O>>
export type HandlerTable = { [O in OpName]?: OpHandler<O> }

/** What the server reports for each request, for logs and metrics. */
export interface RequestOutcome {
  op: string
  vehicleId: string
  requestId: string | null
  ok: boolean
  code?: string
  durationMs: number
}

/** Where requests come from: an MQTT connection, or any RequestTransport (./rpc-transport.ts). */
export type RpcServerSource = { client: MqttClient; transport?: never } | { transport: RequestTransport; client?: never }

export type RpcServerOptions = RpcServerSource & {
  hubId: string
  handlers: HandlerTable
  /** Called once per answered request. Must not throw. */
  onOutcome?: (o: RequestOutcome) => void
  /** Called when a handler throws something that is not a VoltwayError. */
  onInternalError?: (err: unknown, ctx: { op: string; vehicleId: string }) => void
  /** Optional MQTT shared-subscription group, for several hub replicas on one broker (Mosquitto, EMQX). */
  shareGroup?: string
  now?: () => number
  /** The hub's clock, epoch ms, for RequestContext.receivedAtMs (default Date.now). */
  clock?: () => number
  /** Requests running at once, all vehicles together (default 64). */
  concurrency?: number
  /** Requests of one vehicle running at once (default 8). */
  perVehicleConcurrency?: number
  /** Requests of one vehicle running or waiting; beyond it the answer is RATE_LIMITED (default 128). */
  perVehicleLimit?: number
  /** MQTT 5 Message Expiry Interval on replies, s (default 60). */
  replyExpirySeconds?: number
  /** Called for each retained request, which is ignored. Must not throw. */
  onRetainedIgnored?: (ctx: { vehicleId: string }) => void
  /**
   * For a client with a persistent session on an external broker: `stop()`
   * keeps the subscription and leaves every request that arrives after it
   * unacknowledged (no PUBACK), so the broker keeps them in the session and
   * delivers them again when the hub reconnects [MQTT 5 §4.4: a QoS 1
   * message is resent until acknowledged]. Without it, `stop()` unsubscribes.
   */
  keepSessionOnStop?: boolean
}

export interface RpcServer {
  start(): Promise<void>
  /** Stop taking requests; resolves once every in-flight request has been answered. */
  stop(): Promise<void>
  readonly inFlight: number
}

export function createRpcServer(opts: RpcServerOptions): RpcServer {
  const { hubId, handlers } = opts
  const transport = opts.transport ?? mqttRequestTransport(opts.client)
  const now = opts.now ?? Date.now
  const clock = opts.clock ?? Date.now
  const filter = opts.shareGroup ? `$share/${opts.shareGroup}/${topics.hubRequestFilter(hubId)}` : topics.hubRequestFilter(hubId)
  const perVehicleLimit = opts.perVehicleLimit ?? 128
  const replyExpiry = opts.replyExpirySeconds ?? 60
  const scheduler = new FairScheduler({ concurrency: opts.concurrency ?? 64, perKeyConcurrency: opts.perVehicleConcurrency ?? 8, perKeyLimit: perVehicleLimit })
  let accepting = false
  /** Refusals being answered (RATE_LIMITED), which the scheduler does not count. */
  let refusing = 0
  let drained: (() => void) | null = null
  const settle = (): void => {
    if (refusing === 0 && drained) drained()
  }

  const onMessage = (topic: string, payload: Buffer, packet: RequestPacket): void => {
    if (!accepting) return
    const parsedTopic = parseHubRequestTopic(topic)
    if (!parsedTopic || parsedTopic.hubId !== hubId) return
    const { vehicleId } = parsedTopic
    if (packet.retain) {
      opts.onRetainedIgnored?.({ vehicleId })
      return
    }
    const received = { receivedAt: performance.now(), receivedAtMs: clock() }
    const run = (): Promise<void> => handle(vehicleId, payload, packet, received).catch((err: unknown) => opts.onInternalError?.(err, { op: '?', vehicleId }))
    if (scheduler.submit(vehicleId, run)) return
    refusing++
    refuse(vehicleId, payload, packet)
      .catch((err: unknown) => opts.onInternalError?.(err, { op: '?', vehicleId }))
      .finally(() => {
        refusing--
        settle()
      })
  }

  /** Answer without running: the vehicle has too many requests at the hub. */
  async function refuse(vehicleId: string, payload: Buffer, packet: RequestPacket): Promise<void> {
    const reply = replier(vehicleId, packet)
    const json = parseJsonObject(payload)
    const rawId = RequestId.safeParse(json.ok ? json.value.id : json.id)
    const requestId = rawId.success ? rawId.data : null
    const rawOp = json.ok ? json.value.op : undefined
    const op = typeof rawOp === 'string' && isOpName(rawOp) ? rawOp : '?'
    const error: WireError = {
      code: 'RATE_LIMITED',
      message: `vehicle ${vehicleId} has ${perVehicleLimit} requests running or waiting at hub ${hubId}; wait for their answers before sending more`,
      details: { limit: perVehicleLimit },
    }
    await reply.send({ id: requestId, ok: false, error }, { op, requestId, ok: false, code: error.code })
  }

  /** Where and how to answer one request: its reply topic, Correlation Data and a Message Expiry. */
  function replier(vehicleId: string, packet: RequestPacket): { send(body: object, o: Omit<RequestOutcome, 'vehicleId' | 'durationMs'>): Promise<void> } {
    const started = now()
    const replyTo = replyTopicFor(vehicleId, packet)
    const correlationData = packet.properties?.correlationData
    return {
      async send(body, o) {
        // At the QoS the request came with: a QoS 0 asker gets a QoS 0 answer (no PUBACK round on either leg).
        const answer = { qos: packet.qos === 0 ? (0 as const) : (1 as const), messageExpiryInterval: replyExpiry, ...(correlationData !== undefined ? { correlationData } : {}) }
        let outcome = o
        try {
          await transport.publish(replyTo, JSON.stringify(body), answer)
        } catch (err) {
          // Too large is a setting of the hub's broker, not a fault of the hub: its outcome says so (no internal error).
          if (!(err instanceof AnswerTooLarge)) opts.onInternalError?.(err, { op: o.op, vehicleId })
          else {
            // The asker still gets an answer: why, in a few bytes (a set-up fault of the hub's broker, not the request's).
            const error = { code: 'ANSWER_TOO_LARGE' as const, message: `${err.message}; the hub's operator must raise it`, details: { bytes: err.bytes, maxBytes: err.maxBytes } }
            outcome = { ...o, ok: false, code: error.code }
            await transport.publish(replyTo, JSON.stringify({ id: o.requestId, ok: false, error }), answer).catch((e: unknown) => opts.onInternalError?.(e, { op: o.op, vehicleId }))
          }
        }
        opts.onOutcome?.({ ...outcome, vehicleId, durationMs: now() - started })
      },
    }
  }

  async function handle(vehicleId: string, payload: Buffer, packet: RequestPacket, received: { receivedAt: number; receivedAtMs: number }): Promise<void> {
    let requestId: string | null = null
    let op = '?'
    const reply = replier(vehicleId, packet)
    const send = async (body: object, ok: boolean, code?: string): Promise<void> => {
      await reply.send(body, { op, requestId, ok, ...(code !== undefined ? { code } : {}) })
    }
    const fail = (e: WireError): Promise<void> => send({ id: requestId, ok: false, error: e }, false, e.code)

    const json = parseJsonObject(payload)
    if (!json.ok) {
      const salvaged = RequestId.safeParse(json.id)
      if (salvaged.success) requestId = salvaged.data
      return fail({ code: 'BAD_REQUEST', message: `request ${json.reason}` })
    }
    const rawId = RequestId.safeParse(json.value.id)
    if (rawId.success) requestId = rawId.data
    else return fail({ code: 'BAD_REQUEST', message: 'request id must be a string of 1 to 128 characters, without control characters or unpaired surrogates' })
    const rawOp = json.value.op
    if (typeof rawOp !== 'string') return fail({ code: 'BAD_REQUEST', message: 'request op must be a string' })
    op = rawOp.length > 64 ? `${rawOp.slice(0, 64)}…` : rawOp
    if (!isOpName(rawOp)) return fail({ code: 'UNKNOWN_OP', message: `unknown op "${op}"` })
    op = rawOp
    const handler = handlers[rawOp] as OpHandler<OpName> | undefined
    if (!handler) return fail({ code: 'UNKNOWN_OP', message: `op "${rawOp}" is not served by this hub` })
    const rawArgs = json.value.args === undefined ? {} : json.value.args
    const args = OPS[rawOp].args.safeParse(rawArgs, { reportInput: true })
    if (!args.success) {
      const issues = issuesOf(args.error)
      return fail({ code: 'BAD_REQUEST', message: invalidMessage('args', issues), details: { issues } })
    }
    try {
      const result = await handler(args.data as OpArgs<OpName>, { hubId, vehicleId, requestId, op: rawOp, ...received })
      await send({ id: requestId, ok: true, result }, true)
    } catch (err) {
      if (!(err instanceof VoltwayError)) opts.onInternalError?.(err, { op, vehicleId })
      await fail(toVoltwayError(err).toWire())
    }
  }

  return {
    get inFlight() {
      return scheduler.pending + refusing
    },
    async start() {
      accepting = true
      await transport.subscribe(filter, onMessage)
    },
    async stop() {
      if (opts.keepSessionOnStop && transport.holdRequests) {
        transport.holdRequests((topic) => parseHubRequestTopic(topic)?.hubId === hubId)
      } else {
        // Unsubscribe first: messages the broker delivers before its UNSUBACK were
        // acknowledged to it and are still answered; after it, none come.
        try {
          await transport.unsubscribe(filter, onMessage)
        } catch {
          // The connection is going away anyway; in-flight answers still get their chance below.
        }
      }
      accepting = false
      await scheduler.idle()
      if (refusing > 0) await new Promise<void>((resolve) => (drained = resolve))
    },
  }
}

function replyTopicFor(vehicleId: string, packet: RequestPacket): string {
  const responseTopic = packet.properties?.responseTopic
  if (typeof responseTopic === 'string' && isInVehicleNamespace(responseTopic, vehicleId)) return responseTopic
  return topics.vehicleResponse(vehicleId)
}
