/**
 * Server side of the vehicle request/response pattern (PROTOCOL.md): subscribe
 * to `voltway/v1/hubs/H/req/+`, validate, dispatch to a handler table, reply.
 *
 * The vehicle id comes from the topic (the broker's ACL ties it to the
 * username), never from the payload. Replies go to `voltway/v1/vehicles/V/res`,
 * or to an MQTT 5 Response Topic only when it lies inside V's own namespace;
 * Correlation Data is echoed [MQTT 5 §4.10]. Nothing a client sends can make
 * an exception escape: bad JSON, unknown ops and invalid args are coded errors.
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt'
import type { IPublishPacket } from 'mqtt-packet'
import { VoltwayError, toVoltwayError, type WireError } from './errors.js'
import { parseJsonObject } from './json.js'
import { useNoDelay } from './no-delay.js'
import { OPS, isOpName, type OpArgs, type OpName, type OpResult } from './schemas/ops.js'
import { RequestId } from './schemas/envelope.js'
import { isInVehicleNamespace, parseHubRequestTopic, topics } from './topics.js'
import { issuesOf } from './validation.js'

export interface RequestContext {
  hubId: string
  vehicleId: string
  requestId: string
  op: OpName
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

export interface RpcServerOptions {
  client: MqttClient
  hubId: string
  handlers: HandlerTable
  /** Called once per answered request. Must not throw. */
  onOutcome?: (o: RequestOutcome) => void
  /** Called when a handler throws something that is not a VoltwayError. */
  onInternalError?: (err: unknown, ctx: { op: string; vehicleId: string }) => void
  /** Optional MQTT shared-subscription group, for several hub replicas on one broker (Mosquitto, EMQX). */
  shareGroup?: string
  now?: () => number
}

export interface RpcServer {
  start(): Promise<void>
  /** Stop taking requests; resolves once every in-flight request has been answered. */
  stop(): Promise<void>
  readonly inFlight: number
}

export function createRpcServer(opts: RpcServerOptions): RpcServer {
  const { client, hubId, handlers } = opts
  const now = opts.now ?? Date.now
  const filter = opts.shareGroup ? `$share/${opts.shareGroup}/${topics.hubRequestFilter(hubId)}` : topics.hubRequestFilter(hubId)
  let accepting = false
  let inFlight = 0
  let drained: (() => void) | null = null

  const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    if (!accepting) return
    const parsedTopic = parseHubRequestTopic(topic)
    if (!parsedTopic || parsedTopic.hubId !== hubId) return
    inFlight++
    handle(parsedTopic.vehicleId, payload, packet)
      .catch((err: unknown) => opts.onInternalError?.(err, { op: '?', vehicleId: parsedTopic.vehicleId }))
      .finally(() => {
        inFlight--
        if (inFlight === 0 && drained) drained()
      })
  }

  async function handle(vehicleId: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    const started = now()
    let requestId: string | null = null
    let op = '?'
    const replyTo = replyTopicFor(vehicleId, packet)
    const correlationData = packet.properties?.correlationData
    const send = async (body: object, ok: boolean, code?: string): Promise<void> => {
      const publishOpts: IClientPublishOptions = { qos: 1 }
      if (correlationData !== undefined && client.options.protocolVersion === 5) {
        publishOpts.properties = { correlationData }
      }
      try {
        await client.publishAsync(replyTo, JSON.stringify(body), publishOpts)
      } catch (err) {
        opts.onInternalError?.(err, { op, vehicleId })
      }
      const outcome: RequestOutcome = { op, vehicleId, requestId, ok, durationMs: now() - started }
      if (code !== undefined) outcome.code = code
      opts.onOutcome?.(outcome)
    }
    const fail = (e: WireError): Promise<void> => send({ id: requestId, ok: false, error: e }, false, e.code)

    const json = parseJsonObject(payload)
    if (!json.ok) {
      const salvaged = RequestId.safeParse(json.id)
      if (salvaged.success) requestId = salvaged.data
      return fail({ code: 'BAD_REQUEST', message: `request is ${json.reason}` })
    }
    const rawId = RequestId.safeParse(json.value.id)
    if (rawId.success) requestId = rawId.data
    else return fail({ code: 'BAD_REQUEST', message: 'request id must be a string of 1 to 128 characters' })
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
      const first = issues[0]
      const message = first ? `invalid args: ${first.path ? `${first.path}: ` : ''}${first.message}` : 'invalid args'
      return fail({ code: 'BAD_REQUEST', message, details: { issues } })
    }
    try {
      const result = await handler(args.data as OpArgs<OpName>, { hubId, vehicleId, requestId, op: rawOp })
      await send({ id: requestId, ok: true, result }, true)
    } catch (err) {
      if (!(err instanceof VoltwayError)) opts.onInternalError?.(err, { op, vehicleId })
      await fail(toVoltwayError(err).toWire())
    }
  }

  return {
    get inFlight() {
      return inFlight
    },
    async start() {
      useNoDelay(client)
      client.on('message', onMessage)
      accepting = true
      await client.subscribeAsync(filter, { qos: 1 })
    },
    async stop() {
      // Unsubscribe first: messages the broker delivers before its UNSUBACK were
      // acknowledged to it and are still answered; after it, none come.
      try {
        if (client.connected) await client.unsubscribeAsync(filter)
      } catch {
        // The connection is going away anyway; in-flight answers still get their chance below.
      }
      accepting = false
      client.removeListener('message', onMessage)
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve))
    },
  }
}

function replyTopicFor(vehicleId: string, packet: IPublishPacket): string {
  const responseTopic = packet.properties?.responseTopic
  if (typeof responseTopic === 'string' && isInVehicleNamespace(responseTopic, vehicleId)) return responseTopic
  return topics.vehicleResponse(vehicleId)
}
