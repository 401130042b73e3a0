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
import { MqttClient, connect, type IClientOptions } from 'mqtt'
import { pino, type Logger } from 'pino'
import { ConfigError, batchClientWrites, createRpcServer, parseHubRequestTopic, readServerTls, topics, useNoDelay, type HandlerTable, type RpcServer } from '../protocol/index.js'
import { MAX_PACKET_BYTES, assertNoIdentityCollisions, brokerStartFailure, defaultHubUsername, isRefusedLogin, replicaUsername, requestUsername, startEmbeddedBroker, type EmbeddedBroker } from './broker/index.js'
import { systemClock, type Clock } from '../base/clock.js'
import type { HubConfig } from './config.js'
import type { HttpLimits } from './http/limits.js'
import { buildHttpServer } from './http/server.js'
import { HubMetrics } from './metrics.js'
import { createHubContext, mapHandlerErrors, opHandlers, type HubContext } from './ops/index.js'
import { idempotentOps, keyedOpsFor } from './requests/idempotent.js'
import { ChargingService } from './charging/service.js'
import { StationControl } from './charging/station-control.js'
import { StaleStartRecovery } from './charging/stale-start.js'
import { DAY_MS } from './charging/event-retention.js'
import { createCommandChannel } from './station-link/command-channel.js'
import { createEventListener } from './station-link/event-listener.js'
import { createAuthListener } from './station-link/auth-listener.js'
import { CardAuthorizer } from './charging/card-auth.js'
import { createFederation, type Federation, type FederationTuning } from './trips/index.js'
import { leaseNames } from './trips/lease-keeper.js'
import { createStateListener } from './station-link/state-listener.js'
import { createHubPresence, hubStateWill } from './station-link/hub-presence.js'
import { watchSessionTakeover } from './broker/session-takeover.js'
import { gateMessages, type MessageGate } from './message-gate.js'
import { createUi, type Ui } from './ui/index.js'
import { openAccounts, type HubAccounts } from './accounts/index.js'
import { RoamingStation, createRoamingHome } from './roaming/index.js'
import { StorageAvailability, assertWritable, openHubStore, type Store } from './store/index.js'

export interface StartHubOptions {
  logger?: Logger
  clock?: Clock
  /** Use this store instead of the one `config.store` names (tests). */
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
  /**
   * Run as the replica `replica` of this hub (`voltway hub --replica NAME`;
   * docs/operator-guide.md "Scale out"): several replicas share the database
   * and the external broker `mqtt.url`. Each logs in as `<hub user>.<replica>`,
   * takes vehicle requests and station events through MQTT shared
   * subscriptions (`$share/<hubId>/...`, each message to one replica), and
   * owns its background work by leases. Requires `mqtt.url` (ConfigError otherwise).
   */
  replica?: string
  /** How long a vehicle request's claim outlives a replica that died running it, ms; renewed while the request runs (hub/requests/idempotent.ts). Default hub.json `replicas.requestClaimSeconds` (6 s). */
  requestClaimMs?: number
  /** How long a replica that stops waits to hear that another runs before it marks the hub offline (hub/station-link/hub-presence.ts). Default 1000 ms. */
  presenceProbeMs?: number
}

/**
 * How long an external broker keeps the hub's session (and queues requests
 * for it) while the hub is away: long enough for a restart or an upgrade,
 * short enough that nothing older than this is executed on its return.
 */
export const HUB_SESSION_EXPIRY_SECONDS = 300

export interface Hub {
  readonly hubId: string
  /** The replica name (`main` when not started as a replica). */
  readonly replica: string
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

/**
 * Leave the broker: a clean DISCONNECT once what is in flight is sent, but never
 * waiting on a broker that is gone (mqtt.js's end() waits for queued QoS 1
 * messages, which a broker that is down never acknowledges, and SIGTERM would hang
 * until systemd's SIGKILL): disconnected, or not done within END_GRACE_MS, it ends at once.
 */
async function endClient(client: MqttClient): Promise<void> {
  if (!client.connected) return void (await client.endAsync(true))
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), END_GRACE_MS)))
  const ended = await Promise.race([client.endAsync().then(() => 'ended' as const), late])
  clearTimeout(timer)
  if (ended === 'late') await client.endAsync(true)
}

const END_GRACE_MS = 3000

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

/**
 * The hub's connection for vehicle requests on an external broker: the hub's
 * options (session, packet bound, reconnects) as `requestUsername` of its
 * login, with the hub's password and no Will (the hub's state is the other
 * connection's). Its messages are held (MessageGate) until the request server
 * is attached. Null when the broker refuses that login (a password file from
 * before it existed): logged with the fix, and requests share the hub's
 * connection. Any other failure rejects as the hub's own connection would.
 */
async function openRequestClient(url: string, hubOptions: IClientOptions, logger: Logger, replica: string | undefined): Promise<{ client: MqttClient; gate: MessageGate } | null> {
  const { will: _will, clientId, username, ...rest } = hubOptions
  const login = requestUsername(username ?? clientId ?? '')
  const client = connect(url, { ...rest, clientId: requestUsername(clientId ?? ''), ...(username !== undefined ? { username: login } : {}) })
  const gate = gateMessages(client)
  batchClientWrites(client)
  try {
    await connected(client)
  } catch (err) {
    if (!isRefusedLogin(err)) throw brokerStartFailure(err, url, login, replica)
    // Without --replicas, `hub acl` would write the main hub's logins only and lock the other replicas out.
    const acl = replica === undefined ? '`voltway hub acl`' : `\`voltway hub acl --replicas ...,${replica}\` with every replica's name`
    logger.warn(
      { login },
      `the broker refused the login ${login}, the hub's connection for vehicle requests: requests share the hub's one connection meanwhile, where a station that floods events delays them; ` +
        `run ${acl} again (it writes this login into the password file) and reload Mosquitto (kill -HUP), then restart the hub`,
    )
    return null
  }
  return { client, gate }
}

/** hub.json `replicas.leaseTtlSeconds` as federation tuning: a dead replica's leases are looked for a few times per TTL (at most every 5 s). */
function replicaTuning(leaseTtlSeconds: number): Partial<FederationTuning> {
  const leaseTtlMs = leaseTtlSeconds * 1000
  return { leaseTtlMs, takeoverIntervalMs: Math.min(5000, Math.ceil(leaseTtlMs / 3)) }
}

export async function startHub(config: HubConfig, opts: StartHubOptions = {}): Promise<Hub> {
  const replica = opts.replica
  const logger = (opts.logger ?? pino({ level: 'info' })).child(replica === undefined ? { hubId: config.hubId } : { hubId: config.hubId, replica })
  // MQTT shared subscriptions: the embedded broker (aedes here) has none, and one broker per replica would split the stations.
  if (replica !== undefined && !('url' in config.mqtt)) {
    throw new ConfigError(`hub.json: mqtt: --replica ${replica} needs an external broker: set mqtt.url (Mosquitto 2, see \`voltway hub acl --replicas\`) instead of mqtt.listen; replicas share one broker through MQTT shared subscriptions, which the embedded broker does not offer`)
  }
  if (replica !== undefined && config.store.type === 'sqlite') {
    // Sound only for replicas on one machine sharing this file; replicas elsewhere would each book in their own database.
    logger.warn(
      { dataDir: config.dataDir },
      `replica ${replica} on SQLite: every replica of this hub must run on this machine with this dataDir; for replicas on several machines set store to {"type": "postgres", ...} (docs/operator-guide.md "Scale out")`,
    )
  }
  const clock = opts.clock ?? systemClock
  // Certificates are read before anything starts: a bad file exits 2 with nothing opened.
  const mqttTls = 'listen' in config.mqtt ? readServerTls('hub.json: mqtt.listen.tls', config.mqtt.listen.tls) : undefined
  const httpTls = readServerTls('hub.json: http.tls', config.http.tls)
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
    const db: Store = opts.store ?? (await openHubStore(config.store, config.dataDir, { serving: true }))
    cleanups.push(() => db.close())
    // A hub that cannot write must not say ready: exit 2 with the cause, not INTERNAL on every write.
    await assertWritable(db, config.dataDir, config.store)
    const storage = new StorageAvailability({ store: db, clock, logger })

    const context = createHubContext({ config, store: db, clock, logger })
    const accounts = await openAccounts({ config, store: db, clock, logger, stations: context.stations })
    cleanups.push(async () => accounts.live.stop())

    // Broker: embedded by default, or an external one that enforces the same ACL.
    let mqttUrl: string
    let hubLogin: { username?: string; password?: string }
    /** Lets the embedded broker's other logins in once requests are served (nothing to do on an external broker). */
    let admit = (): void => undefined
    let inProcess: EmbeddedBroker['inProcess']
    let brokerRequests: EmbeddedBroker['requests'] | undefined
    if ('listen' in config.mqtt) {
      const broker: EmbeddedBroker = await startEmbeddedBroker({
        host: config.mqtt.listen.host,
        port: opts.ephemeralPorts ? 0 : config.mqtt.listen.port,
        ...(mqttTls ? { tls: mqttTls } : {}),
        hubId: config.hubId,
        stations: [],
        vehicles: [],
        accounts: accounts.table,
        allowAnonymous: config.mqtt.allowAnonymous,
        logger,
        ...(opts.brokerRequestPace ? { requestPace: opts.brokerRequestPace } : {}),
        admitAtOnce: false,
      })
      admit = () => broker.admit()
      cleanups.push(() => broker.close())
      accounts.disconnectWith(broker.disconnect)
      mqttUrl = broker.url
      hubLogin = broker.hubCredentials
      inProcess = broker.inProcess
      brokerRequests = broker.requests
    } else {
      // The same identity rules as the embedded broker, and the login `voltway hub acl` writes for the hub.
      assertNoIdentityCollisions(config)
      mqttUrl = config.mqtt.url
      hubLogin = { username: replicaUsername(config.mqtt.username ?? defaultHubUsername(config.hubId), replica), password: config.mqtt.password }
    }

    // On an external broker the hub keeps a persistent session (stable client id, clean: false, MQTT 5
    // Session Expiry), so requests published while it restarts are queued by the broker and answered
    // after the restart. The embedded broker restarts with the hub, so a session there would outlive nothing.
    // A replica keeps no session: the broker gives a dead replica's share of vehicle requests and station
    // events to the live ones at once (vehicles repeat unanswered requests with the same id; stations re-send
    // unacknowledged events), instead of queueing them for a replica that may not come back.
    const external = !('listen' in config.mqtt) && replica === undefined
    const hubOptions: IClientOptions = {
      protocolVersion: 5,
      clientId: hubLogin.username ?? `hub-${config.hubId}`,
      ...(hubLogin.username !== undefined ? { username: hubLogin.username } : {}),
      ...(hubLogin.password !== undefined ? { password: hubLogin.password } : {}),
      ...(external ? { clean: false } : {}),
      // The broker never sends the hub a packet over the embedded broker's bound, whatever its own config says
      // (./broker/packet-limit.ts): a station's 100 MiB event would hold every vehicle request behind it.
      properties: { maximumPacketSize: MAX_PACKET_BYTES, ...(external ? { sessionExpiryInterval: opts.sessionExpirySeconds ?? HUB_SESSION_EXPIRY_SECONDS } : {}) },
      reconnectPeriod: 1000,
      // An external broker being reloaded may refuse us once; keep trying rather than stay away for good.
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      // mqtt.js formats a `debug` line per packet even when debug output is off; skip it unless DEBUG asks for mqttjs.
      ...(process.env.DEBUG?.includes('mqttjs') ? {} : { log: () => undefined }),
      will: hubStateWill(config.hubId, clock),
    }
    const client: MqttClient = inProcess ? new MqttClient(inProcess, hubOptions) : connect(mqttUrl, hubOptions)
    // Messages queued in the session arrive right after CONNACK: hold them until the handlers are attached.
    const gate = gateMessages(client)
    // One socket write per turn on the connection to an external broker (protocol/coalesce-writes.ts), each sent
    // at once (station commands, acks and card answers are small: Nagle plus delayed ACKs would hold them).
    if (!inProcess) {
      batchClientWrites(client)
      useNoDelay(client)
    }
    await connected(client).catch((err: unknown) => {
      throw inProcess ? err : brokerStartFailure(err, mqttUrl, hubLogin.username, replica)
    })
    client.on('error', (err) => logger.warn({ err: err.message }, 'mqtt client error'))
    const takenOver = (login: string | undefined) => (why: string): void =>
      logger.error(
        { login },
        `${why}: another process logs in to the broker as ${login} and takes this hub's session; ${replica === undefined ? 'run one hub process per hub.json, or start each as --replica NAME' : `is --replica ${replica} running twice? give each replica its own name (voltway hub acl --replicas)`}`,
      )
    watchSessionTakeover(client, { clock, onTakeover: takenOver(hubLogin.username) })
    // On an external broker vehicle requests come on a connection of their own: a broker queues and sends each
    // connection's messages in order, so on the hub's one connection a station flooding events held every vehicle
    // request behind its flood (and past Mosquitto's queue of 1000, dropped it). Refused (no such login yet): one connection.
    // Only on an external broker: on the embedded one requests come in process (broker/in-process-requests.ts).
    const requests = 'url' in config.mqtt ? await openRequestClient(mqttUrl, hubOptions, logger, replica) : null
    if (requests) {
      const reqClient = requests.client
      reqClient.on('error', (err) => logger.warn({ err: err.message }, 'mqtt client error (vehicle requests)'))
      watchSessionTakeover(reqClient, { clock, onTakeover: takenOver(hubLogin.username === undefined ? undefined : requestUsername(hubLogin.username)) })
      // Ended after the request server stops (cleanups run in reverse), so its last answers go out.
      cleanups.push(() => endClient(reqClient))
      // Requests the hub's own persistent session still holds (queued there before this hub had a request connection)
      // are served too; that session's subscription to them is dropped once the request server has subscribed (below).
      client.on('message', (topic, payload, packet) => {
        if (parseHubRequestTopic(topic)?.hubId === config.hubId) reqClient.emit('message', topic, payload, packet)
      })
    }
    // The hub's retained state: offline at a clean stop only when no other replica runs (./station-link/hub-presence.ts).
    const presence = createHubPresence({ client, hubId: config.hubId, clock, logger, ...(replica !== undefined ? { replica } : {}), ...(opts.presenceProbeMs !== undefined ? { probeMs: opts.presenceProbeMs } : {}) })
    await presence.start()
    cleanups.push(async () => {
      await presence.stop()
      await endClient(client)
    })

    const metrics = new HubMetrics(
      config.hubId,
      {
        stationsOnline: () => context.stations.all().filter((s) => s.live.online).length,
        stationsTotal: () => context.stations.all().length,
        bookings: () => db.reservations.counts(clock.now()),
      },
      replica === undefined ? {} : { replica },
    )
    const shareGroup = replica === undefined ? undefined : config.hubId

    const stateListener = createStateListener(client, context.stations, logger)
    await stateListener.start()
    cleanups.push(async () => stateListener.stop())

    const commands = createCommandChannel(client, logger)
    await commands.start()
    cleanups.push(async () => commands.stop())
    const cards = new CardAuthorizer({ vehicles: config.vehicles, cacheMs: config.cardAuthHours * 3_600_000, store: db, stations: context.stations, rules: context.rules, clock, logger })
    const charging = new ChargingService({ hubId: config.hubId, store: db, stations: context.stations, commands, cards, clock, rules: context.rules, logger, onClockSkew: metrics.onStationClockSkew, ...(opts.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.commandTimeoutMs } : {}) })
    const stationControl = new StationControl({ stations: context.stations, commands, logger, ...(opts.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.commandTimeoutMs } : {}) })
    // `hubs` is only called by dashboard requests, once `federation` below exists.
    const ui = createUi({ config, store: db, stations: context.stations, charging, stationControl, metrics, clock, logger, hubs: () => federation.hubs() })
    cleanups.push(async () => ui.close())
    const events = createEventListener(client, ui.observe(charging), logger, shareGroup === undefined ? {} : { shareGroup })
    await events.start()
    cleanups.push(() => events.stop())
    const auth = createAuthListener(client, cards, logger, shareGroup === undefined ? {} : { shareGroup })
    await auth.start()
    cleanups.push(async () => auth.stop())

    const federation = createFederation({
      config,
      store: db,
      clock,
      logger,
      stations: context.stations,
      // history.list's own part: sessions here and roaming receipts (called per request, after `roaming` exists).
      receipts: (vehicleId) => roaming.home.receipts(vehicleId, 500),
      roaming: new RoamingStation({ hubId: config.hubId, store: db, charging }),
      onPeerCall: (r) => {
        metrics.onPeerCall(r)
        ui.onPeerCall(r)
      },
      ...(replica !== undefined ? { replica } : {}),
      tuning: { ...replicaTuning(config.replicas.leaseTtlSeconds), stationEventsKeptMs: config.retention.stationEventsDays * DAY_MS, ...opts.federationTuning },
    })
    // Closed after HTTP and the request server stop (cleanups run in reverse), before the store.
    cleanups.push(() => federation.close())
    const roaming = createRoamingHome({
      hubId: config.hubId, store: db, clock, logger, client: federation.client, local: charging,
      ...(opts.federationTuning?.releaseMinDelayMs !== undefined ? { stopMinDelayMs: opts.federationTuning.releaseMinDelayMs } : {}),
      ...(opts.federationTuning?.releaseMaxDelayMs !== undefined ? { stopMaxDelayMs: opts.federationTuning.releaseMaxDelayMs } : {}),
    })
    cleanups.push(() => roaming.close())

    const handlers: HandlerTable = mapHandlerErrors(
      idempotentOps(opHandlers({ ...context, charging: roaming.home, federation }), {
        store: db.idempotency,
        clock,
        logger,
        leaseMs: opts.requestClaimMs ?? config.replicas.requestClaimSeconds * 1000,
        // reservation.create's request id rides in its booking's write where the store can (one commit, not three).
        keyedOps: keyedOpsFor(db),
      }),
      storage.wireError,
    )
    const reqLog = logger.child({ component: 'requests' })
    const rpc: RpcServer = createRpcServer({
      // On the embedded broker requests and answers skip the hub's own MQTT connection (broker/in-process-requests.ts).
      ...(brokerRequests && shareGroup === undefined ? { transport: brokerRequests } : { client: requests?.client ?? client }),
      hubId: config.hubId,
      handlers,
      ...(shareGroup !== undefined ? { shareGroup } : {}),
      now: () => performance.now(),
      clock: () => clock.now(),
      onOutcome: (o) => {
        metrics.onOutcome(o)
        if (o.ok) reqLog.debug(o, 'request')
        else if (o.code === 'INTERNAL') reqLog.error(o, 'request failed')
        else reqLog.warn(o, 'request refused')
      },
      onInternalError: (err, c) => reqLog.error({ err, ...c }, 'internal error'),
      onRetainedIgnored: (c) => reqLog.warn(c, 'retained request ignored: a retained message is never run'),
      // A restart (SIGTERM) on an external broker leaves later requests queued in the hub's session, not lost.
      keepSessionOnStop: external,
    })

    // True from the moment vehicle requests are served (subscribed, handlers attached) until shutdown begins.
    let ready = false
    const http = buildHttpServer({
      logger,
      metrics,
      peers: config.federation.peers,
      health: async () => ({ broker: client.connected && (requests?.client.connected ?? true), database: await storage.writable(), http: true, ready }),
      identity: { replica: replica ?? 'main' },
      wireError: storage.wireError,
      federationRoutes: [federation.routes],
      plugins: [ui.register, accounts.routes],
      ...(opts.httpLimits ? { limits: opts.httpLimits } : {}),
      ...(httpTls ? { tls: httpTls } : {}),
    })
    await http.listen({ host: config.http.host, port: opts.ephemeralPorts ? 0 : config.http.port })
    cleanups.push(() => http.close())
    const addr = http.server.address() as AddressInfo
    const httpUrl = `${httpTls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`

    // Recovery of unfinished trips runs in the background: it may wait on peers, requests may not.
    await federation.start()
    await roaming.start()
    // Sessions left `starting` by a hub process that died before its station answered: failed, stations stopped;
    // once per database (its lease), at start-up and then every command timeout. Closed before the leases stop.
    const staleStarts = new StaleStartRecovery({
      store: db, commands, clock, logger,
      acquireLease: () => federation.leases.acquire(leaseNames.staleStarts),
      ...(opts.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.commandTimeoutMs } : {}),
    })
    staleStarts.start()
    cleanups.push(() => staleStarts.close())
    await rpc.start()
    // Only now: dropped earlier, requests vehicles sent meanwhile would reach no session. A request sent in between
    // may come on both; the request id answers it once more, as any repeat.
    if (requests && external) await client.unsubscribeAsync(topics.hubRequestFilter(config.hubId))
    requests?.gate.open()
    gate.open()
    admit()
    const drainMs = opts.drainTimeoutMs ?? 10_000
    cleanups.push(async () => {
      await Promise.race([rpc.stop(), new Promise((r) => setTimeout(r, drainMs).unref())])
    })
    ready = true
    cleanups.push(async () => {
      ready = false
    })
    await presence.online()
    logger.info({ mqtt: mqttUrl, http: httpUrl, stations: config.stations.length }, 'hub started')

    let closing: Promise<void> | null = null
    return {
      hubId: config.hubId,
      replica: replica ?? 'main',
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
