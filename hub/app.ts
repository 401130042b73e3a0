/**
 * One company's hub, assembled: database, station registry, MQTT broker
 * (embedded aedes or an external one), the vehicle request/response server,
 * the station links, and the HTTP server (health, metrics, federation).
 *
 * `startHub` resolves once everything answers; `close()` shuts down in the
 * order that loses nothing: stop taking requests, answer the ones in flight,
 * close HTTP, disconnect from the broker, stop the broker, close the database.
 */
import type { AddressInfo } from 'node:net'
import { connect, type MqttClient } from 'mqtt'
import { pino, type Logger } from 'pino'
import { createRpcServer, formatTime, topics, type HandlerTable, type RpcServer } from '../protocol/index.js'
import { assertNoIdentityCollisions, defaultHubUsername, startEmbeddedBroker, type EmbeddedBroker } from './broker/index.js'
import { systemClock, type Clock } from '../base/clock.js'
import type { HubConfig } from './config.js'
import type { HttpLimits } from './http/limits.js'
import { buildHttpServer } from './http/server.js'
import { HubMetrics } from './metrics.js'
import { createHubContext, mapHandlerErrors, opHandlers, type HubContext } from './ops/index.js'
import { ChargingService } from './charging/service.js'
import { StationControl } from './charging/station-control.js'
import { createCommandChannel } from './station-link/command-channel.js'
import { createEventListener } from './station-link/event-listener.js'
import { createFederation, type Federation, type FederationTuning } from './trips/index.js'
import { createStateListener } from './station-link/state-listener.js'
import { gateMessages } from './message-gate.js'
import { createUi, type Ui } from './ui/index.js'
import { openAccounts, type HubAccounts } from './accounts/index.js'
import { StorageAvailability, assertWritable, openHubDatabase, type Store } from './store/index.js'

export interface StartHubOptions {
  logger?: Logger
  clock?: Clock
  /** Use this store instead of SQLite in `dataDir` (tests). */
  store?: Store
  /** Listen on port 0 for MQTT and HTTP (tests): the real ports are in the returned Hub. */
  ephemeralPorts?: boolean
  /** Longest wait for in-flight requests at shutdown. */
  drainTimeoutMs?: number
  /** How long charge.start/stop wait for the station's answer. */
  commandTimeoutMs?: number
  /** Federation timeouts and retries (tests shorten them). */
  federationTuning?: Partial<FederationTuning>
  /** HTTP server timeouts and limits (tests shorten them). */
  httpLimits?: Partial<HttpLimits>
  /** MQTT 5 Session Expiry of the hub's session on an external broker. Default HUB_SESSION_EXPIRY_SECONDS. */
  sessionExpirySeconds?: number
  /** Embedded broker: pace of each vehicle's requests (benchmarks where one vehicle stands for many lift it). */
  brokerRequestPace?: { perSecond: number; burst: number }
}

/**
 * How long an external broker keeps the hub's session (and queues requests
 * for it) while the hub is away: long enough for a restart or an upgrade,
 * short enough that nothing older than this is executed on its return.
 */
export const HUB_SESSION_EXPIRY_SECONDS = 300

export interface Hub {
  readonly hubId: string
  readonly config: HubConfig
  readonly context: HubContext
  readonly charging: ChargingService
  /** Operator commands to stations (enable, disable). */
  readonly stationControl: StationControl
  readonly federation: Federation
  /** Where vehicles and stations connect. */
  readonly mqttUrl: string
  readonly httpUrl: string
  readonly metrics: HubMetrics
  /** The operator's dashboard at `/ui/` (hub/ui). */
  readonly ui: Ui
  /** Vehicles and stations in the store, followed while the hub runs (hub/accounts). */
  readonly accounts: HubAccounts
  close(): Promise<void>
}

/** Resolves on the client's first CONNACK; rejects (and ends the client) on an error before it, as connectAsync does. */
function connected(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      client.off('connect', onConnect)
      client.off('error', onError)
    }
    const onConnect = (): void => {
      done()
      resolve()
    }
    const onError = (err: Error): void => {
      done()
      client.end(true)
      reject(err)
    }
    client.on('connect', onConnect)
    client.on('error', onError)
  })
}

export async function startHub(config: HubConfig, opts: StartHubOptions = {}): Promise<Hub> {
  const logger = (opts.logger ?? pino({ level: 'info' })).child({ hubId: config.hubId })
  const clock = opts.clock ?? systemClock
  const cleanups: Array<() => Promise<void>> = []
  const closeAll = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn()
      } catch (err) {
        logger.warn({ err }, 'error during shutdown')
      }
    }
  }

  try {
    const db: Store = opts.store ?? openHubDatabase(config.dataDir)
    cleanups.push(() => db.close())
    // A hub that cannot write must not say ready: exit 2 with the cause, not INTERNAL on every write.
    await assertWritable(db, config.dataDir)
    const storage = new StorageAvailability({ store: db, clock, logger })

    const context = createHubContext({ config, store: db, clock, logger })
    const accounts = await openAccounts({ config, store: db, clock, logger, stations: context.stations })
    cleanups.push(async () => accounts.live.stop())

    // Broker: embedded by default, or an external one that enforces the same ACL.
    let mqttUrl: string
    let hubLogin: { username?: string; password?: string }
    if ('listen' in config.mqtt) {
      const broker: EmbeddedBroker = await startEmbeddedBroker({
        host: config.mqtt.listen.host,
        port: opts.ephemeralPorts ? 0 : config.mqtt.listen.port,
        hubId: config.hubId,
        stations: [],
        vehicles: [],
        accounts: accounts.table,
        allowAnonymous: config.mqtt.allowAnonymous,
        logger,
        ...(opts.brokerRequestPace ? { requestPace: opts.brokerRequestPace } : {}),
      })
      cleanups.push(() => broker.close())
      accounts.disconnectWith(broker.disconnect)
      mqttUrl = broker.url
      hubLogin = broker.hubCredentials
    } else {
      // The same identity rules as the embedded broker, and the login `voltway hub acl` writes for the hub.
      assertNoIdentityCollisions(config)
      mqttUrl = config.mqtt.url
      hubLogin = { username: config.mqtt.username ?? defaultHubUsername(config.hubId), password: config.mqtt.password }
    }

    // On an external broker the hub keeps a persistent session (stable client id, clean: false, MQTT 5
    // Session Expiry), so requests published while it restarts are queued by the broker and answered
    // after the restart. The embedded broker restarts with the hub, so a session there would outlive nothing.
    const external = !('listen' in config.mqtt)
    const client: MqttClient = connect(mqttUrl, {
      protocolVersion: 5,
      clientId: hubLogin.username ?? `hub-${config.hubId}`,
      ...(hubLogin.username !== undefined ? { username: hubLogin.username } : {}),
      ...(hubLogin.password !== undefined ? { password: hubLogin.password } : {}),
      ...(external ? { clean: false, properties: { sessionExpiryInterval: opts.sessionExpirySeconds ?? HUB_SESSION_EXPIRY_SECONDS } } : {}),
      reconnectPeriod: 1000,
      // An external broker being reloaded may refuse us once; keep trying rather than stay away for good.
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      will: { topic: topics.hubState(config.hubId), payload: Buffer.from(JSON.stringify({ online: false, hubId: config.hubId, ts: formatTime(clock.now()) })), qos: 1, retain: true },
    })
    // Messages queued in the session arrive right after CONNACK: hold them until the handlers are attached.
    const gate = gateMessages(client)
    await connected(client)
    client.on('error', (err) => logger.warn({ err: err.message }, 'mqtt client error'))
    cleanups.push(async () => {
      await client.publishAsync(topics.hubState(config.hubId), JSON.stringify({ online: false, hubId: config.hubId, ts: formatTime(clock.now()) }), { qos: 1, retain: true }).catch(() => undefined)
      await client.endAsync()
    })

    const metrics = new HubMetrics(config.hubId, {
      stationsOnline: () => context.stations.all().filter((s) => s.live.online).length,
      stationsTotal: () => context.stations.all().length,
      bookings: () => db.reservations.counts(clock.now()),
    })

    const stateListener = createStateListener(client, context.stations, logger)
    await stateListener.start()
    cleanups.push(async () => stateListener.stop())

    const commands = createCommandChannel(client, logger)
    await commands.start()
    cleanups.push(async () => commands.stop())
    const charging = new ChargingService({ hubId: config.hubId, store: db, stations: context.stations, commands, clock, rules: context.rules, logger, onClockSkew: metrics.onStationClockSkew, ...(opts.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.commandTimeoutMs } : {}) })
    const stationControl = new StationControl({ stations: context.stations, commands, logger, ...(opts.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.commandTimeoutMs } : {}) })
    const ui = createUi({ config, store: db, stations: context.stations, charging, stationControl, metrics, clock, logger })
    cleanups.push(async () => ui.close())
    const events = createEventListener(client, ui.observe(charging), logger)
    await events.start()
    cleanups.push(() => events.stop())

    const federation = createFederation({
      config,
      store: db,
      clock,
      logger,
      stations: context.stations,
      receipts: (vehicleId) => charging.receipts(vehicleId, 500),
      ...(opts.federationTuning ? { tuning: opts.federationTuning } : {}),
    })
    // Closed after HTTP and the request server stop (cleanups run in reverse), before the store.
    cleanups.push(() => federation.close())

    const handlers: HandlerTable = mapHandlerErrors(
      opHandlers({ ...context, charging, federation }),
      storage.wireError,
    )
    const reqLog = logger.child({ component: 'requests' })
    const rpc: RpcServer = createRpcServer({
      client,
      hubId: config.hubId,
      handlers,
      now: () => performance.now(),
      onOutcome: (o) => {
        metrics.onOutcome(o)
        if (o.ok) reqLog.debug(o, 'request')
        else if (o.code === 'INTERNAL') reqLog.error(o, 'request failed')
        else reqLog.warn(o, 'request refused')
      },
      onInternalError: (err, c) => reqLog.error({ err, ...c }, 'internal error'),
      onRetainedIgnored: (c) => reqLog.warn(c, 'retained request ignored: a retained message is never run'),
    })

    // True from the moment vehicle requests are served (subscribed, handlers attached) until shutdown begins.
    let ready = false
    const http = buildHttpServer({
      logger,
      metrics,
      peers: config.federation.peers,
      health: async () => ({ broker: client.connected, database: await storage.writable(), http: true, ready }),
      wireError: storage.wireError,
      federationRoutes: [federation.routes],
      plugins: [ui.register, accounts.routes],
      ...(opts.httpLimits ? { limits: opts.httpLimits } : {}),
    })
    await http.listen({ host: config.http.host, port: opts.ephemeralPorts ? 0 : config.http.port })
    cleanups.push(() => http.close())
    const addr = http.server.address() as AddressInfo
    const httpUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`

    // Recovery of unfinished trips runs in the background: it may wait on peers, requests may not.
    await federation.start()
    await rpc.start()
    gate.open()
    const drainMs = opts.drainTimeoutMs ?? 10_000
    cleanups.push(async () => {
      await Promise.race([rpc.stop(), new Promise((r) => setTimeout(r, drainMs).unref())])
    })
    ready = true
    cleanups.push(async () => {
      ready = false
    })
    await client.publishAsync(topics.hubState(config.hubId), JSON.stringify({ online: true, hubId: config.hubId, ts: formatTime(clock.now()) }), { qos: 1, retain: true })
    logger.info({ mqtt: mqttUrl, http: httpUrl, stations: config.stations.length }, 'hub started')

    let closing: Promise<void> | null = null
    return {
      hubId: config.hubId,
      config,
      context,
      charging,
      stationControl,
      federation,
      mqttUrl,
      httpUrl,
      metrics,
      ui,
      accounts,
      close() {
        closing ??= closeAll().then(() => logger.info('hub stopped'))
        return closing
      },
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}
