/**
 * The station agent: composes the hardware, the durable outbox, the charging
 * session, the hub-command table and the link to the hub, and runs the
 * control cycle (meter poll, limits, telemetry) and the board heartbeat.
 *
 * Hardware, outbox, link and clock are injected (each behind an interface
 * with its contract in TSDoc); when absent, create() opens the production
 * ones from the config. The control cycle is also callable as `tick()`, so
 * tests move the clock and tick instead of sleeping.
 */
import { pino, type Logger } from 'pino'
import { systemClock, type Clock } from '../base/clock.js'
import { formatTime, type StationEvent, type StationState } from '../protocol/index.js'
import { AckHandler } from './ack-handler.js'
import { CardAuth, type CardDecision } from './card-auth.js'
import { SqliteCardCache, type CardCache } from './card-cache.js'
import { mqttTls, type StationConfig } from './config.js'
import { FAULT_CODES } from './errors.js'
import { openStationHardware, type StationHardware } from './hardware.js'
import { HealthLoop, type Health } from './health-loop.js'
import { HubCommands } from './hub-commands.js'
import { StationLink, type HubLink } from './link.js'
import { meterWatchOptions, type MeterWatchOptions } from './meter-watch.js'
import { Outbox, type StationOutbox } from './outbox.js'
import { SdNotifier } from './sd-notify.js'
import { ChargingSession } from './session.js'
import { AGENT_VERSION } from './version.js'

/** What the agent needs of the hardware (a StationHardware, or hand-made parts in tests). */
export type AgentHardware = Pick<StationHardware, 'relay' | 'meter'> & Partial<Pick<StationHardware, 'board' | 'heartbeat' | 'close' | 'mock' | 'watchdogPin' | 'cardReader'>>

export interface StationAgentOptions {
  config: StationConfig
  /** Default: opened from `config.hardware`; the agent then closes it on stop. */
  hardware?: AgentHardware
  /** Default: the SQLite outbox in `config.dataDir` (defaultOutbox), which the agent then closes on stop. An injected one is left open. */
  outbox?: StationOutbox
  /** Default: the MQTT link to `config.mqtt` (defaultLink). Injected or not, the agent starts and closes it. */
  link?: HubLink
  clock?: Clock
  logger?: Logger
  /** Control cycle period, ms (default min(1000, telemetryIntervalMs)); 0 = only explicit tick(). */
  pollIntervalMs?: number
  /** Board heartbeat period, ms (default 1000). */
  heartbeatIntervalMs?: number
  /** For the default link: delay between reconnect attempts, ms. */
  reconnectPeriodMs?: number
  /** For the default link. */
  connectTimeoutMs?: number
  /** For the default link: MQTT 5 session expiry, s (default 600). */
  sessionExpirySeconds?: number
  meterWatch?: MeterWatchOptions
  /**
   * Send unacked events again when no ack came for this long while connected,
   * ms (default 30 000). Covers a hub that was not subscribed when they were
   * sent (e.g. it restarted together with its embedded broker).
   */
  resendAfterMs?: number
  /** systemd notifications; default from the environment (NOTIFY_SOCKET), null = none. */
  systemd?: SdNotifier | null
  /** With a card reader: the local authorization cache (default: SQLite next to the outbox, which the agent then closes on stop). */
  cardCache?: CardCache
  /** Each card decision, after it took effect (tests). */
  onCardDecision?: (d: CardDecision) => void
}

export class StationAgent {
  readonly config: StationConfig
  readonly hardware: AgentHardware
  readonly outbox: StationOutbox
  readonly charger: ChargingSession
  readonly link: HubLink
  readonly #o: StationAgentOptions
  readonly #clock: Clock
  readonly #log: Logger
  readonly #commands: HubCommands
  readonly #acks: AckHandler
  readonly #ownsHardware: boolean
  readonly #ownsOutbox: boolean
  /** Cards at the charger; present when the hardware has a card reader. */
  readonly cards: CardAuth | undefined
  readonly #cardCache: CardCache | undefined
  readonly #ownsCardCache: boolean
  #stopReading: (() => void) | undefined
  readonly #timers: ReturnType<typeof setInterval>[] = []
  readonly #inFlight = new Set<Promise<unknown>>()
  #nextSeq = 0
  #lastSendAt = Number.NEGATIVE_INFINITY
  #lastTelemetryAt = Number.NEGATIVE_INFINITY
  #ticking: Promise<void> | undefined
  #tickStartedAt = 0
  #health: HealthLoop | undefined
  #started = false
  #stopped = false

  private constructor(opts: StationAgentOptions, hardware: AgentHardware, ownsHardware: boolean) {
    this.#o = opts
    this.config = opts.config
    this.hardware = hardware
    this.#ownsHardware = ownsHardware
    this.#clock = opts.clock ?? systemClock
    this.#log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'station', stationId: opts.config.stationId })
    this.#ownsOutbox = opts.outbox === undefined
    this.outbox = opts.outbox ?? defaultOutbox(opts.config)
    this.charger = new ChargingSession({
      relay: hardware.relay,
      meter: hardware.meter,
      outbox: this.outbox,
      clock: this.#clock,
      log: this.#log.child({ part: 'session' }),
      watch: { ...meterWatchOptions(opts.config.hardware), ...opts.meterWatch },
      onEvent: (e) => this.#onEvent(e),
      onChange: () => this.#publishState(),
    })
    this.#acks = new AckHandler(this.outbox, this.#log.child({ part: 'acks' }))
    this.#commands = new HubCommands({ charger: this.charger, outbox: this.outbox, clock: this.#clock, log: this.#log.child({ part: 'commands' }) })
    this.link = opts.link ?? defaultLink(opts, this.#clock, this.#log.child({ part: 'link' }))
    this.#ownsCardCache = hardware.cardReader !== undefined && opts.cardCache === undefined
    this.#cardCache = hardware.cardReader ? (opts.cardCache ?? SqliteCardCache.open(opts.config.dataDir)) : undefined
    this.cards = this.#cardCache
      ? new CardAuth({
          charger: this.charger,
          cache: this.#cardCache,
          clock: this.#clock,
          log: this.#log.child({ part: 'cards' }),
          timeoutMs: opts.config.cards.authTimeoutMs,
          hubReachable: () => this.link.connected && this.link.offlineMs() === null,
          ask: (req) => this.link.publishAuth(req),
          ...(opts.onCardDecision ? { onDecision: opts.onCardDecision } : {}),
        })
      : undefined
  }

  /** Open the hardware (unless given) and the outbox. Call start() next. */
  static async create(opts: StationAgentOptions): Promise<StationAgent> {
    if (opts.hardware) return new StationAgent(opts, opts.hardware, false)
    const hw = await openStationHardware(opts.config, opts.clock ? { clock: opts.clock } : {})
    try {
      return new StationAgent(opts, hw, true)
    } catch (err) {
      await hw.close()
      throw err
    }
  }

  /** Recover (a session left by a dead agent is reported ended), then connect and run. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    // Fail safe first: the relay is open before anything else happens.
    await this.hardware.relay.open().catch((err: unknown) => this.#log.error({ err: String(err) }, 'opening the relay at start-up failed'))
    await this.charger.init()
    this.hardware.board?.onDisconnect((err) => {
      void this.charger.fault(FAULT_CODES.BOARD_DISCONNECTED, err.message)
    })
    this.link.on('connect', () => {
      this.#nextSeq = 0
      this.#publishState()
      this.#pump()
    })
    this.link.on('hubLost', () => {
      if (this.config.offline.maxChargeMinutes === 0) void this.tick()
    })
    this.link.on('cmd', (payload) => void this.#onCommand(payload))
    this.link.on('ack', (payload) => this.#onAck(payload))
    this.link.on('authRes', (payload) => this.cards?.onAnswer(payload))
    const cards = this.cards
    if (cards) this.#stopReading = this.hardware.cardReader?.onCard((idTag) => void cards.tap(idTag))
    this.link.start(() => this.state(false))
    this.#startHealthLoop()
    const poll = this.#o.pollIntervalMs ?? Math.min(1000, this.config.telemetryIntervalMs)
    if (poll > 0) this.#timers.push(setInterval(() => void this.tick(), poll))
    const beat = this.#o.heartbeatIntervalMs ?? 1000
    if (this.hardware.heartbeat && beat > 0) {
      const heartbeat = this.hardware.heartbeat
      this.#timers.push(setInterval(() => heartbeat(), beat))
    }
    this.#log.info({ version: AGENT_VERSION, epoch: this.outbox.epoch, lastSeq: this.outbox.lastSeq, pending: this.outbox.pendingCount }, 'station agent started')
  }

  /** The retained state as it would be published now. */
  state(online = this.link.connected && !this.#stopped): StationState {
    return {
      online,
      status: this.charger.status,
      sessionId: this.charger.sessionId,
      meterWh: this.charger.meterWh,
      agentVersion: AGENT_VERSION,
      ts: formatTime(this.#clock.now()),
    }
  }

  /** One control cycle: poll the meter, enforce maxWh and the offline limit, send telemetry. Never rejects. */
  tick(): Promise<void> {
    if (this.#stopped) return Promise.resolve()
    if (!this.#ticking) this.#tickStartedAt = Date.now()
    this.#ticking ??= this.#tick().finally(() => {
      this.#ticking = undefined
    })
    return this.#ticking
  }

  async #tick(): Promise<void> {
    try {
      this.hardware.heartbeat?.()
      const limitMs = this.config.offline.maxChargeMinutes * 60_000
      const reading = await this.charger.poll(this.link.offlineMs(), limitMs)
      const sessionId = this.charger.sessionId
      const now = this.#clock.now()
      if (this.link.connected && now - this.#lastSendAt >= (this.#o.resendAfterMs ?? 30_000) && this.outbox.pendingCount > 0) {
        this.#log.info({ pending: this.outbox.pendingCount }, 'no ack yet; sending unacked events again')
        this.#nextSeq = 0
        this.#pump()
      }
      if (reading && sessionId && this.link.connected && now - this.#lastTelemetryAt >= this.config.telemetryIntervalMs) {
        this.#lastTelemetryAt = now
        const t = { sessionId, powerW: reading.powerW, meterWh: reading.energyWh, ts: formatTime(now) }
        const extra = {
          ...(reading.voltageV !== undefined ? { voltageV: reading.voltageV } : {}),
          ...(reading.currentA !== undefined ? { currentA: reading.currentA } : {}),
        }
        this.#track(this.link.publishTelemetry({ ...t, ...extra }))
      }
    } catch (err) {
      this.#log.error({ err }, 'control cycle failed')
    }
  }

  /**
   * Graceful stop (SIGTERM/SIGINT): open the relay, end a running session
   * (reason `shutdown`), publish the retained state `online: false`, close.
   */
  async stop(timeoutMs = 3000): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const t of this.#timers.splice(0)) clearInterval(t)
    this.#stopReading?.()
    await this.#health?.stop()
    await this.#ticking
    await this.charger.shutdown()
    await waitAll([...this.#inFlight], timeoutMs)
    await this.link.close(this.state(false), timeoutMs)
    if (this.#ownsHardware) await this.hardware.close?.()
    if (this.#ownsOutbox) this.outbox.close()
    if (this.#ownsCardCache) this.#cardCache?.close()
    this.#log.info('station agent stopped')
  }

  /**
   * Tests only: die like `kill -9`. No relay write, no goodbye; the broker
   * publishes the will and the board's watchdog must notice the silence.
   */
  crash(): void {
    this.#stopped = true
    for (const t of this.#timers.splice(0)) clearInterval(t)
    void this.#health?.stop(false)
    this.#stopReading?.()
    this.link.destroy()
    if (this.#ownsOutbox) this.outbox.close()
    if (this.#ownsCardCache) this.#cardCache?.close()
  }

  /**
   * The verdict the watchdogs are fed from (station/health-loop.ts): alive
   * unless the control cycle has been stuck for 3 s (real time: a hang is
   * real time, whatever the injected clock says); safe when also the relay
   * state is known and the station is not faulted.
   */
  health(): Health {
    const stuckMs = this.#ticking ? Date.now() - this.#tickStartedAt : 0
    if (stuckMs > 3000) return { alive: false, safe: false, reason: `control cycle stuck for ${stuckMs} ms` }
    if (this.hardware.relay.state === 'unknown') return { alive: true, safe: false, reason: 'relay state unknown' }
    if (this.charger.status === 'faulted') return { alive: true, safe: false, reason: 'station faulted' }
    return { alive: true, safe: true }
  }

  #startHealthLoop(): void {
    const systemd = this.#o.systemd === undefined ? SdNotifier.fromEnv() : (this.#o.systemd ?? undefined)
    const pin = this.hardware.watchdogPin
    const periodMs = this.config.hardware.watchdog?.periodMs
    if (!systemd && !pin) return
    this.#health = new HealthLoop({
      check: () => this.health(),
      log: this.#log.child({ part: 'health' }),
      ...(pin && periodMs ? { pin: { output: pin, periodMs } } : {}),
      ...(systemd ? { systemd } : {}),
    })
    this.#health.start()
  }

  #publishState(): void {
    if (!this.link.connected || this.#stopped) return
    this.#track(this.link.publishState(this.state(true)))
  }

  #onEvent(_event: StationEvent): void {
    this.#pump()
  }

  /** Publish the unacked events not yet sent on this connection, in seq order. */
  #pump(): void {
    if (!this.link.connected) return
    for (const event of this.outbox.pending(this.#nextSeq)) {
      this.#nextSeq = event.seq + 1
      this.#lastSendAt = this.#clock.now()
      this.#track(this.link.publishEvent(event))
    }
  }

  async #onCommand(payload: Buffer): Promise<void> {
    if (this.#stopped) return
    const result = await this.#commands.handle(payload)
    if (result && !this.#stopped) this.#track(this.link.publishResult(result))
  }

  #onAck(payload: Buffer): void {
    if (this.#stopped) return
    const from = this.#acks.handle(payload)
    if (from === undefined) return
    this.#nextSeq = from
    this.#pump()
  }

  #track(p: Promise<unknown>): void {
    const q = p.catch((err: unknown) => this.#log.debug({ err: String(err) }, 'publish not completed'))
    this.#inFlight.add(q)
    void q.finally(() => this.#inFlight.delete(q))
  }
}

/** The production outbox: SQLite in `config.dataDir` (created if missing). */
export function defaultOutbox(config: StationConfig): StationOutbox {
  return Outbox.open(config.dataDir)
}

/** The production link: MQTT 5 to `config.mqtt`, with the agent's link options. */
export function defaultLink(opts: StationAgentOptions, clock: Clock, log: Logger): HubLink {
  const { config } = opts
  return new StationLink({
    url: config.mqtt.url,
    stationId: config.stationId,
    hubId: config.hubId,
    ...(config.mqtt.username ? { username: config.mqtt.username } : {}),
    password: config.mqtt.password,
    ...mqttTls(config),
    clock,
    log,
    ...(opts.sessionExpirySeconds !== undefined ? { sessionExpirySeconds: opts.sessionExpirySeconds } : {}),
    ...(opts.reconnectPeriodMs !== undefined ? { reconnectPeriodMs: opts.reconnectPeriodMs } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
  })
}

async function waitAll(ps: Promise<unknown>[], timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([Promise.allSettled(ps), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))])
  clearTimeout(timer)
}
