/**
 * The agent's MQTT connection to its hub's broker (mqtt.js 5, MQTT 5).
 * - Persistent session: `clean: false` and `sessionExpiryInterval > 0`
 *   (docs/design.md pitfall: with the default 0 the broker drops the session and
 *   queued QoS 1 commands at every reconnect).
 * - Login: username = stationId (or mqtt.username), clientId = stationId.
 * - Subscribes to cmd and ack on every connect, whatever `sessionPresent` says.
 * - Retained messages on cmd and ack are ignored: only live ones are orders.
 * - Last Will: the retained state with `online: false`, refreshed before each
 *   reconnect so it carries the latest status.
 * - Tracks since when the hub has been unreachable, for the offline limit:
 *   the broker connection is down, or the hub's retained state
 *   (`voltway/v1/hubs/H/state`, its Last Will) says `online: false` while an
 *   external broker stays up. A hub that never published its state counts as
 *   there while the broker is.
 */
import { EventEmitter } from 'node:events'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { Clock } from '../base/clock.js'
import { withTimeout } from '../base/with-timeout.js'
import { HubState, parseJsonObject, topics, type CardAuthRequest, type StationCommandResult, type StationEvent, type StationState, type Telemetry } from '../protocol/index.js'

export interface LinkOptions {
  url: string
  stationId: string
  /** The station's hub, whose retained state tells whether it is there. */
  hubId: string
  username?: string
  password: string
  /** CA certificates (PEM) to trust for an `mqtts://` url. */
  ca?: Buffer
  clock: Clock
  log: Logger
  /** MQTT 5 session expiry, s (default 600). */
  sessionExpirySeconds?: number
  /** Delay between reconnect attempts, ms (default 1000). */
  reconnectPeriodMs?: number
  connectTimeoutMs?: number
  keepaliveSeconds?: number
}

export interface LinkEvents {
  connect: [sessionPresent: boolean]
  disconnect: []
  /** The hub became unreachable: the broker connection dropped, or the hub's state went `online: false`. */
  hubLost: []
  cmd: [payload: Buffer]
  ack: [payload: Buffer]
  /** The hub's answer to a card request (`auth/res`). */
  authRes: [payload: Buffer]
}

/**
 * The agent's connection to its hub: publishes state, events, telemetry and
 * command results, and hands over the hub's commands and acks as events.
 * Events are emitted asynchronously, never from inside a call.
 *
 * The agent owns the link it is given: it calls start() once, and close()
 * (graceful) or destroy() (crash) once at the end.
 */
export interface HubLink {
  /** True between a `connect` event and the next `disconnect`. */
  readonly connected: boolean
  /** ms the hub has been unreachable (since creation or the last `disconnect`), or null while connected. */
  offlineMs(): number | null
  /**
   * Start connecting, and keep reconnecting until close()/destroy().
   * `willState` gives the state the hub is to see if the agent dies without
   * a goodbye (published with `online: false`); it is read at each (re)connect.
   */
  start(willState: () => StationState): void
  /** Retained, at-least-once. Rejects if the link is not started or the publish fails. */
  publishState(state: StationState): Promise<void>
  /** At-least-once. Rejects if the link is not started or the publish fails. */
  publishEvent(event: StationEvent): Promise<void>
  /** At-most-once (a lost reading is replaced by the next). */
  publishTelemetry(t: Telemetry): Promise<void>
  /** At-least-once. Rejects if the link is not started or the publish fails. */
  publishResult(r: StationCommandResult): Promise<void>
  /** A card request on `auth` (at-least-once). Rejects if the link is not started or the publish fails. */
  publishAuth(req: CardAuthRequest): Promise<void>
  /**
   * Say goodbye: publish `finalState` if connected, waiting up to `timeoutMs`
   * (default 2000), then disconnect so no Last Will is published. Never rejects.
   */
  close(finalState: StationState | undefined, timeoutMs?: number): Promise<void>
  /** Drop the connection at once, as a dying process would (the hub then sees the Last Will). */
  destroy(): void
  on<K extends keyof LinkEvents>(event: K, listener: (...args: LinkEvents[K]) => void): unknown
}

/** The MQTT 5 link (mqtt.js) to the hub's broker. */
export class StationLink extends EventEmitter<LinkEvents> implements HubLink {
  readonly #o: LinkOptions
  readonly #log: Logger
  readonly #topics: { state: string; telemetry: string; events: string; cmd: string; ack: string; res: string; hub: string; auth: string; authRes: string }
  #client: MqttClient | undefined
  #willState: () => StationState = () => {
    throw new Error('link not started')
  }
  #offlineSince: number
  /** Since when the hub's state has said `online: false` (null: online, or not heard). */
  #hubDownSince: number | null = null
  /** After a reconnect, until the hub's state is heard: when the broker was lost (a hub still down was gone all along). */
  #lostAt: number | null = null
  #connected = false
  #closing = false

  constructor(opts: LinkOptions) {
    super()
    this.#o = opts
    this.#log = opts.log
    this.#offlineSince = opts.clock.now()
    const t = (k: Parameters<typeof topics.station>[1]) => topics.station(opts.stationId, k)
    this.#topics = { state: t('state'), telemetry: t('telemetry'), events: t('events'), cmd: t('cmd'), ack: t('ack'), res: t('cmd/res'), hub: topics.hubState(opts.hubId), auth: t('auth'), authRes: t('auth/res') }
  }

  get connected(): boolean {
    return this.#connected
  }

  /** Is the hub reachable: the broker connected and the hub's state not `online: false`? */
  get hubReachable(): boolean {
    return this.#connected && this.#hubDownSince === null
  }

  /** ms the hub has been unreachable (broker gone, or the hub's state offline), or null while it is reachable. */
  offlineMs(): number | null {
    if (!this.#connected) return Math.max(0, this.#o.clock.now() - this.#offlineSince)
    return this.#hubDownSince === null ? null : Math.max(0, this.#o.clock.now() - this.#hubDownSince)
  }

  start(willState: () => StationState): void {
    this.#willState = willState
    const o = this.#o
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: o.stationId,
      username: o.username ?? o.stationId,
      password: o.password,
      clean: false,
      properties: { sessionExpiryInterval: o.sessionExpirySeconds ?? 600 },
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      // Keep trying after a refused login too: the hub may not know this station yet, or its broker is being reconfigured.
      reconnectOnConnackError: true,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      keepalive: o.keepaliveSeconds ?? 30,
      resubscribe: false,
      queueQoSZero: false,
      will: this.#will(),
      ...(o.ca ? { ca: o.ca } : {}),
    }
    const client = mqtt.connect(o.url, options)
    this.#client = client
    client.on('connect', (connack) => {
      this.#connected = true
      this.#lostAt = this.#offlineSince
      this.#log.info({ sessionPresent: connack.sessionPresent }, 'connected to the hub broker')
      // Subscribe on every connect, session or not: a session left by someone else under this
      // client id (`voltway station check`, an older agent) may hold no subscriptions at all.
      // Subscribing again is idempotent [MQTT-3.8.4-3] and keeps queued messages.
      client.subscribe([this.#topics.cmd, this.#topics.ack, this.#topics.hub, this.#topics.authRes], { qos: 1 }, (err) => {
        if (err) this.#log.error({ err: err.message }, 'subscribing to cmd/ack/hub state/auth answers failed')
      })
      this.emit('connect', connack.sessionPresent === true)
    })
    client.on('close', () => this.#lost())
    client.on('offline', () => this.#lost())
    client.on('reconnect', () => {
      // Carry the newest status in the will of the next connection.
      client.options.will = this.#will()
    })
    client.on('error', (err) => this.#log.warn({ err: err.message }, 'broker connection error'))
    client.on('message', (topic, payload, packet) => {
      // The hub's state is retained on purpose: it says whether the hub is there now.
      if (topic === this.#topics.hub) return this.#onHubState(payload)
      // A retained command or ack is a stale replay left on the broker, never an order from the hub now.
      if (packet.retain) {
        this.#log.warn({ topic }, 'ignoring a retained message on a command topic')
        return
      }
      if (topic === this.#topics.cmd) this.emit('cmd', payload)
      else if (topic === this.#topics.ack) this.emit('ack', payload)
      else if (topic === this.#topics.authRes) this.emit('authRes', payload)
    })
  }

  publishState(state: StationState): Promise<void> {
    return this.#publish(this.#topics.state, state, { qos: 1, retain: true })
  }

  publishEvent(event: StationEvent): Promise<void> {
    return this.#publish(this.#topics.events, event, { qos: 1, retain: false })
  }

  publishTelemetry(t: Telemetry): Promise<void> {
    return this.#publish(this.#topics.telemetry, t, { qos: 0, retain: false })
  }

  publishResult(r: StationCommandResult): Promise<void> {
    return this.#publish(this.#topics.res, r, { qos: 1, retain: false })
  }

  publishAuth(req: CardAuthRequest): Promise<void> {
    return this.#publish(this.#topics.auth, req, { qos: 1, retain: false })
  }

  /**
   * Say goodbye: publish `finalState` (online: false) if connected, wait for it
   * up to `timeoutMs`, then disconnect normally (the broker then drops the will).
   */
  async close(finalState: StationState | undefined, timeoutMs = 2000): Promise<void> {
    const client = this.#client
    if (!client || this.#closing) return
    this.#closing = true
    if (finalState && this.#connected) {
      await withTimeout(this.publishState(finalState), timeoutMs, timeoutError).catch((err: unknown) =>
        this.#log.warn({ err: String(err) }, 'could not publish the final state'),
      )
    }
    await withTimeout(client.endAsync(false), timeoutMs, timeoutError).catch(() => client.end(true))
    this.#connected = false
  }

  /** Drop the connection abruptly (tests: simulate a dead link; the broker publishes the will). */
  destroy(): void {
    this.#closing = true
    this.#client?.end(true)
    this.#connected = false
  }

  #lost(): void {
    if (!this.#connected) return
    const wasReachable = this.hubReachable
    this.#connected = false
    this.#offlineSince = this.#hubDownSince ?? this.#o.clock.now()
    this.#log.warn('lost the hub broker connection')
    this.emit('disconnect')
    if (wasReachable) this.emit('hubLost')
  }

  #onHubState(payload: Buffer): void {
    const json = parseJsonObject(payload)
    const state = json.ok ? HubState.safeParse(json.value) : undefined
    if (!state?.success || state.data.hubId !== this.#o.hubId) {
      // An empty payload (a cleared state) or garbage says nothing about the hub: keep what we know.
      if (payload.length > 0) this.#log.warn({ topic: this.#topics.hub }, 'ignoring an invalid hub state')
      return
    }
    const lostAt = this.#lostAt
    this.#lostAt = null
    if (state.data.online) {
      if (this.#hubDownSince !== null) this.#log.info('the hub is back')
      this.#hubDownSince = null
      return
    }
    if (this.#hubDownSince !== null) return
    const wasReachable = this.hubReachable
    this.#hubDownSince = lostAt ?? this.#o.clock.now()
    this.#log.warn('the hub is gone (its state says offline); the offline limit runs')
    if (wasReachable) this.emit('hubLost')
  }

  #will(): NonNullable<IClientOptions['will']> {
    const state = { ...this.#willState(), online: false }
    return { topic: this.#topics.state, payload: Buffer.from(JSON.stringify(state)), qos: 1, retain: true }
  }

  #publish(topic: string, body: object, opts: { qos: 0 | 1; retain: boolean }): Promise<void> {
    const client = this.#client
    if (!client) return Promise.reject(new Error('link not started'))
    return new Promise<void>((resolve, reject) => {
      client.publish(topic, JSON.stringify(body), opts, (err) => (err ? reject(err) : resolve()))
    })
  }
}

const timeoutError = (): Error => new Error('the broker did not answer in time')
