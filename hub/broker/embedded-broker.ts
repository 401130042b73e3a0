/**
 * The hub's embedded MQTT broker (aedes 2, MQTT 3.1.1 and 5) with the access
 * control of docs/protocol.md: every client logs in, its client id is put under its
 * login (client-ids.ts: ids cannot name another login's session, and stock
 * clients without `-i` work side by side), and every publish, subscription,
 * delivery and Last Will is checked against the permission table.
 *
 * What one login can make the broker keep is bounded: sessions (live and
 * persistent, `maxSessionsPerLogin`), each session's queue
 * (`maxQueuedPerSession`), its subscriptions (`maxSubscriptionsPerSession`,
 * filters of at most `maxFilterBytes`), how long a vehicle's session outlives it
 * (`vehicleSessionExpirySeconds`); a client that stops reading is cut after
 * `drainTimeoutMs`; a vehicle's requests are paced (`requestPace`), so a
 * flood waits in its own socket. Retain is refused on requests, commands, their answers,
 * acks and events (`canRetain`): retained, they would run again for every new
 * subscriber.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { once, type EventEmitter } from 'node:events'
import { Duplex } from 'node:stream'
import { Aedes, type AuthErrorCode, type Client, type ConnectPacket, type PublishPacket } from 'aedes'
import { pino, type Logger } from 'pino'
import { ConfigError, coalesceWrites, type RequestTransport, type TlsMaterial } from '../../protocol/index.js'
import { inProcessRequests } from './in-process-requests.js'
import { listenHint } from './listen-hint.js'
import { canPublish, canRead, canRetain, canSubscribe, canWill, compileRules, type Identity } from './permissions.js'
import { boundedMemoryPersistence, type QueuePersistence } from './bounded-queue.js'
import { loginOfSessionId, sessionIdFor } from './client-ids.js'
import { RequestPacer } from './request-pacer.js'
import { SessionQuota } from './session-quota.js'
import { AccountTable, assertNoIdentityCollisions, defaultHubUsername, randomPassword, type Account, type StationCredential, type VehicleCredential } from './identities.js'
import { MAX_PACKET_BYTES } from './packet-limit.js'

export interface EmbeddedBrokerOptions {
  /** Interface to listen on (hub.json `mqtt.listen.host`). */
  host: string
  /** Port to listen on; 0 picks a free one (see `EmbeddedBroker.port`). */
  port: number
  /** hub.json `mqtt.listen.tls`, read: MQTT over TLS on `port` (`mqtts://`); with `requestCert`, clients must present a certificate signed by `ca`. */
  tls?: TlsMaterial & { requestCert: boolean }
  hubId: string
  stations: readonly StationCredential[]
  vehicles: readonly VehicleCredential[]
  /** hub.json `mqtt.allowAnonymous`: anonymous clients may then read the public state topics, nothing else. */
  allowAnonymous?: boolean
  logger?: Logger
  /** Disconnect a subscriber whose socket has not drained after this long, so it cannot stall delivery to all (default 1000 ms). */
  drainTimeoutMs?: number
  /** Live connections plus persistent sessions one login may hold (default 8); the hub's own login is exempt. */
  maxSessionsPerLogin?: number
  /** QoS 1/2 messages kept for one session (default 100); newer ones are dropped for it. */
  maxQueuedPerSession?: number
  /**
   * Subscriptions one session may hold (default 100); a new filter beyond it is refused in the SUBACK.
   * Without it a client could subscribe to ever new filters (`stations/<invented>/state`) and the broker,
   * for a persistent session even after the client left, would keep every one.
   */
  maxSubscriptionsPerSession?: number
  /** Longest topic filter accepted in a SUBSCRIBE, bytes (default 1024); ours are well under 200. */
  maxFilterBytes?: number
  /** Longest MQTT 5 Session Expiry a vehicle gets, s (default 3600); stations and others get up to a day. */
  vehicleSessionExpirySeconds?: number
  /** Pace of each vehicle's requests: over it they are held back, not refused (default 1000/s, bursts of 1000). */
  requestPace?: { perSecond: number; burst: number }
  /**
   * Pace of each station's publishes (state, telemetry, events, answers): a real charger sends a few per
   * second at most, so a flooding station waits in its own socket (default 50/s, bursts of 200).
   */
  stationPace?: { perSecond: number; burst: number }
  /** false: accept only the hub's own login until `admit()` (the hub starting). Default true. */
  admitAtOnce?: boolean
  /** Deepest topic accepted in PUBLISH/SUBSCRIBE/Will; ours have at most 6 levels. */
  maxTopicLevels?: number
  /** Largest MQTT packet accepted, bytes (default MAX_PACKET_BYTES, ./packet-limit.ts). */
  maxPacketBytes?: number
  /** A socket that has not completed CONNECT after this long is closed (docs/operator-guide.md "Limits"). Default 10 s. */
  connectTimeoutMs?: number
  /** Accounts kept up to date by the caller (hub/accounts/live-accounts.ts); `stations`/`vehicles` are added to it. */
  accounts?: AccountTable
}

export interface EmbeddedBroker {
  port: number
  /** Where the hub connects, e.g. `mqtt://127.0.0.1:1883` (a wildcard listen host becomes loopback). */
  url: string
  /** The hub's own login, random per start: full access to `voltway/v1/#`. */
  hubCredentials: { username: string; password: string }
  /**
   * With `admitAtOnce: false`: let stations, vehicles and anonymous readers in. Until then only the hub's
   * own login is accepted (the others get CONNACK "server unavailable" and retry): a request published
   * before the hub subscribes would be acknowledged to its sender and reach nobody. The hub calls it
   * once it serves requests.
   */
  admit(): void
  /**
   * A connection to this broker inside the process (for MQTT.js `new MqttClient(builder, ...)`),
   * set when the broker listens with TLS: the hub's own link then needs neither a certificate
   * naming the loopback address nor a client certificate when `requestCert` is on.
   */
  inProcess?: () => Duplex
  /** The hub's request server's way in and out of this broker, in process (./in-process-requests.ts). */
  requests: RequestTransport
  /** What the broker holds now, from its persistence: for tests and metrics. */
  stats(): Promise<BrokerStats>
  /** Close every live connection of these logins (a removed account, a changed password). */
  disconnect(logins: readonly string[]): void
  close(): Promise<void>
}

export interface BrokerStats {
  /** Live connections by login (the hub's own not counted). */
  connectionsByLogin: Record<string, number>
  /** Persistent session ids kept for each login (live or offline), by login. */
  sessionsByLogin: Record<string, number>
  /** Sessions with stored subscriptions (aedes-persistence `countOffline`). */
  storedSessions: number
  /** Subscriptions stored for persistent sessions (aedes-persistence `countOffline`, QoS 1/2 ones). */
  storedSubscriptions: number
  /** QoS 1/2 messages queued across all sessions. */
  queuedMessages: number
  /** Messages dropped because a session's queue was full. */
  droppedMessages: number
}

const NOT_AUTHORIZED = 5 as AuthErrorCode
const BAD_USERNAME_OR_PASSWORD = 4 as AuthErrorCode
const IDENTIFIER_REJECTED = 2 as AuthErrorCode
/** 3.1.1 "server unavailable"; aedes sends MQTT 5 clients 0x88. */
const SERVER_UNAVAILABLE = 3 as AuthErrorCode
const DAY_SECONDS = 24 * 3600
const ANONYMOUS: Account = { identity: { kind: 'anonymous', id: '' }, rules: compileRules({ kind: 'anonymous', id: '' }) }

function authError(returnCode: AuthErrorCode, message: string): Error & { returnCode: AuthErrorCode } {
  return Object.assign(new Error(message), { returnCode })
}

/** Start the broker; resolves once it accepts connections. Throws ConfigError on colliding ids or a port it cannot listen on. */
export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'broker' })
  const hubCredentials = { username: defaultHubUsername(opts.hubId), password: randomPassword() }
  assertNoIdentityCollisions({
    hubId: opts.hubId,
    mqtt: { listen: { host: opts.host, port: opts.port }, allowAnonymous: opts.allowAnonymous ?? false },
    stations: opts.stations,
    vehicles: opts.vehicles,
  })

  const accounts = opts.accounts ?? new AccountTable()
  accounts.add({ kind: 'hub', id: hubCredentials.username }, hubCredentials.password)
  for (const s of opts.stations) accounts.add({ kind: 'station', id: s.stationId }, s.password)
  for (const v of opts.vehicles) accounts.add({ kind: 'vehicle', id: v.vehicleId }, v.password)

  /** Authenticated clients only; a client missing here may do nothing. */
  const sessions = new WeakMap<Client, Account>()
  /** The Will of each connecting client, by object identity, to tell a will from an ordinary publish. */
  const wills = new WeakMap<Client, NonNullable<ConnectPacket['will']>>()
  /** The client id each client sent, before it was put under its login. */
  const givenIds = new WeakMap<Client, string>()
  const who = (id: Identity): string => (id.kind === 'anonymous' ? 'anonymous' : `${id.kind} ${id.id}`)
  const maxSessions = opts.maxSessionsPerLogin ?? 8
  const vehicleExpiry = opts.vehicleSessionExpirySeconds ?? 3600
  const quota = new SessionQuota(maxSessions)
  const maxSubs = opts.maxSubscriptionsPerSession ?? 100
  const maxFilterBytes = opts.maxFilterBytes ?? 1024
  /** The filters granted to each connection (restored ones of a persistent session are granted again at login). */
  const grantedFilters = new WeakMap<Client, Set<string>>()
  const store = boundedMemoryPersistence(opts.maxQueuedPerSession ?? 100, (clientId) => log.debug({ clientId }, 'session queue full: message dropped'))
  // aedes 2 stores every filter of a SUBSCRIBE packet for a persistent session once any one of them is
  // granted, refused ones included (and again for each granted one): only granted filters are kept.
  const persistence = store.persistence as QueuePersistence & { addSubscriptions(client: Client, subs: Array<{ topic: string }>): Promise<unknown> }
  const addSubscriptions = persistence.addSubscriptions.bind(persistence)
  persistence.addSubscriptions = (client, subs) => {
    const granted = grantedFilters.get(client)
    return addSubscriptions(client, granted === undefined ? [] : subs.filter((s) => granted.has(s.topic)))
  }
  let brokerId = ''
  const pacer = new RequestPacer(opts.requestPace ?? { perSecond: 1000, burst: 1000 })
  const stationPacer = new RequestPacer(opts.stationPace ?? { perSecond: 50, burst: 200 })
  let admitting = opts.admitAtOnce ?? true

  /** The checks after the password: Will, session quota; then the client is in. */
  const admit = (client: Client, account: Account, done: (err: ReturnType<typeof authError> | null, ok: boolean) => void): void => {
    if (!admitting && account.identity.kind !== 'hub') {
      log.debug({ client: who(account.identity) }, 'login deferred: the hub does not serve requests yet')
      return done(authError(SERVER_UNAVAILABLE, 'server unavailable: the hub is starting'), false)
    }
    const will = wills.get(client)
    if (will && (!canWill(account.rules, will.topic) || (will.retain && !canRetain(will.topic)))) {
      // Refuse at once rather than silently dropping the will later: the misconfigured client learns now.
      log.warn({ client: who(account.identity), topic: will.topic }, 'login refused: Last Will to a topic this client may not use')
      return done(authError(NOT_AUTHORIZED, 'not authorized'), false)
    }
    const kind = account.identity.kind
    if (kind === 'vehicle' && client.version === 5) capSessionExpiry(client, vehicleExpiry)
    if (givenIds.get(client) === '' && client.version === 5) reportAssignedId(client)
    if (kind !== 'hub') {
      const login = account.identity.id
      const admission = quota.admit(login, client.id, client, !client.clean, kind !== 'anonymous')
      if (!admission.ok) {
        log.warn({ client: who(account.identity), clientId: client.id, limit: maxSessions }, 'login refused: this login already holds its limit of sessions, all connected')
        return done(authError(SERVER_UNAVAILABLE, 'too many sessions for this login'), false)
      }
      client.conn.once('close', () => quota.closed(login, client))
      if (admission.evict !== undefined) {
        const evicted = admission.evict
        log.info({ client: who(account.identity), evicted, limit: maxSessions }, 'oldest offline session of this login dropped for a new one')
        // aedes 2 timers for the session and its delayed Will (untyped public methods).
        const timers = broker as unknown as { clearSessionExpiry(id: string): void; clearDelayedWill(id: string): void }
        timers.clearSessionExpiry(evicted)
        timers.clearDelayedWill(evicted)
        void store.wipe(evicted, brokerId).catch((err: unknown) => log.error({ err, evicted }, 'could not drop a session'))
      }
    }
    sessions.set(client, account)
    done(null, true)
  }

  const drainTimeoutMs = opts.drainTimeoutMs ?? 1000
  const broker = await Aedes.createBroker({
    persistence: store.persistence,
    drainTimeout: drainTimeoutMs,
    maxTopicLevels: opts.maxTopicLevels ?? 16,
    maximumPacketSize: opts.maxPacketBytes ?? MAX_PACKET_BYTES,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    // Usernames become client ids; MQTT 3.1 would otherwise cap them at 23 characters.
    maxClientsIdLength: 256,
    // Bound what a client cycling identities can pin in memory (MQTT 5 sessions and delayed wills);
    // per login, SessionQuota binds first.
    sessionExpiryIntervalLimit: DAY_SECONDS,
    pendingSessionsLimit: Math.max(1000, maxSessions * (opts.stations.length + opts.vehicles.length + 2)),

    preConnect(client, packet, callback) {
      givenIds.set(client, packet.clientId)
      // An empty id with a persistent 3.1.1 session stays empty: aedes refuses it with 0x02 [MQTT-3.1.3-8].
      if (packet.clientId !== '' || packet.protocolVersion === 5 || packet.clean) packet.clientId = sessionIdFor(packet.username, packet.clientId)
      if (packet.will) wills.set(client, packet.will)
      callback(null, true)
    },

    authenticate(client, username, password, done) {
      if (username === undefined) {
        if (!opts.allowAnonymous) {
          log.warn({ clientId: client.id }, 'anonymous client refused')
          return done(authError(NOT_AUTHORIZED, 'not authorized'), false)
        }
        // Its session is `:<id>` anyway; naming a known identity is refused so nobody is misled.
        if (accounts.has(loginOfSessionId(givenIds.get(client) ?? ''))) return done(authError(IDENTIFIER_REJECTED, 'identifier rejected'), false)
        return admit(client, ANONYMOUS, done)
      }
      accounts.verify(username, password).then(
        (found) => {
          if (found) return admit(client, found, done)
          log.warn({ username }, 'login refused: unknown username or wrong password')
          done(authError(BAD_USERNAME_OR_PASSWORD, 'bad username or password'), false)
        },
        (err: unknown) => {
          log.error({ err, username }, 'login check failed')
          done(authError(SERVER_UNAVAILABLE, 'server unavailable'), false)
        },
      )
    },

    authorizePublish(client, packet: PublishPacket, callback) {
      const account = client ? sessions.get(client) : undefined
      // Wills are authorized here again when they fire [aedes CVE: wills once skipped authorization].
      const isWill = client !== null && wills.get(client) === packet
      const ok =
        account !== undefined &&
        (isWill ? canWill(account.rules, packet.topic) : canPublish(account.rules, packet.topic)) &&
        (!packet.retain || canRetain(packet.topic))
      if (ok && account.identity.kind === 'vehicle' && !isWill) return pacer.pace(account.identity.id, () => callback(null))
      if (ok && account.identity.kind === 'station' && !isWill) return stationPacer.pace(account.identity.id, () => callback(null))
      if (ok) return callback(null)
      log.info({ client: account ? who(account.identity) : null, topic: packet.topic, will: isWill, retain: packet.retain }, 'publish refused')
      // Generic text: MQTT 5 clients receive it as the PUBACK Reason String.
      callback(new Error('not authorized'))
    },

    authorizeSubscribe(client, sub, callback) {
      const account = sessions.get(client)
      if (sub.topic.startsWith('$share/')) {
        // MQTT 5 clients already get 0x9E from aedes; this covers 3.1.1, where `$share/...` would be a literal topic.
        log.info({ client: account ? who(account.identity) : null, topic: sub.topic }, 'shared subscriptions are not supported by the embedded broker; use an external broker to scale out')
        return callback(null, null)
      }
      if (account !== undefined && canSubscribe(account.rules, sub.topic)) {
        const granted = grantedFilters.get(client) ?? new Set<string>()
        grantedFilters.set(client, granted)
        if (account.identity.kind === 'hub') {
          granted.add(sub.topic)
          return callback(null, sub)
        }
        if (Buffer.byteLength(sub.topic) > maxFilterBytes) {
          log.info({ client: who(account.identity), bytes: Buffer.byteLength(sub.topic), limit: maxFilterBytes }, 'subscription refused: topic filter too long')
          return callback(null, null)
        }
        if (!granted.has(sub.topic) && granted.size >= maxSubs) {
          log.warn({ client: who(account.identity), clientId: client.id, limit: maxSubs }, 'subscription refused: this session holds its limit of subscriptions')
          return callback(null, null)
        }
        granted.add(sub.topic)
        return callback(null, sub)
      }
      log.info({ client: account ? who(account.identity) : null, topic: sub.topic }, 'subscription refused')
      callback(null, null) // SUBACK 0x80 (3.1.1) / 0x87 (5)
    },

    authorizeForward(client, packet) {
      // Delivery-time check: a reply reaches only a client that may read its topic, however it got subscribed.
      const account = sessions.get(client)
      return account !== undefined && canRead(account.rules, packet.topic) ? packet : null
    },
  })

  // aedes emits 'error' (e.g. from persistence) without typing it; unhandled, it would crash the hub.
  const emitter: EventEmitter = broker
  emitter.on('error', (err: Error) => log.error({ err }, 'broker error'))
  // The clients already logged as cut off: aedes fails every write still waiting for the drain with the
  // same error, and reports each (one per message queued), so one disconnect would be many warn lines.
  const drainCutOff = new WeakSet<Client>()
  broker.on('clientError', (client: Client, err: Error) => {
    // aedes destroys a subscriber's socket with this error when it has not drained in time: the operator
    // should see who was cut off and why (a reader too slow for what it subscribed to, or a stalled one).
    if (err.message === 'drain timeout') {
      if (drainCutOff.has(client)) return
      drainCutOff.add(client)
      log.warn({ clientId: client.id, drainTimeoutMs }, `disconnected a subscriber whose socket did not drain within ${drainTimeoutMs} ms (a slow or stalled reader); it may connect again`)
    } else log.debug({ clientId: client.id, err: err.message }, 'client error')
  })
  broker.on('connectionError', (client: Client, err: Error) => log.debug({ clientId: client.id, err: err.message }, 'connection error'))
  brokerId = broker.id
  // Sessions aedes itself ends: expired, or over its global cap.
  const ended = (client: Client): void => quota.ended(loginOfSessionId(client.id), client.id)
  emitter.on('sessionExpired', ended)
  emitter.on('sessionLimitReached', ended)
  broker.on('unsubscribe', (filters: string[], client: Client) => {
    const granted = grantedFilters.get(client)
    for (const f of filters) granted?.delete(f)
  })
  // An MQTT 5 session whose expiry is 0 ends with its connection.
  broker.on('clientDisconnect', (client: Client) => {
    if (client.version === 5 && (client as Client & { sessionExpiryInterval?: number }).sessionExpiryInterval === 0) ended(client)
  })

  const sockets = new Set<Socket>()
  const onSocket = (socket: Socket): void => {
    // Small request/response packets: Nagle plus delayed ACKs would stall each round trip (see protocol/no-delay.ts).
    socket.setNoDelay(true)
    // One write per turn for everything aedes sends this client (a burst of answers fans out as one writev).
    coalesceWrites(socket)
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    broker.handle(socket)
  }
  const server: Server = opts.tls
    ? createTlsServer({ ...opts.tls, rejectUnauthorized: opts.tls.requestCert, handshakeTimeout: opts.connectTimeoutMs ?? 10_000 }, onSocket)
    : createServer(onSocket)
  if (opts.tls) {
    server.on('tlsClientError', (err: Error & { code?: string }) => log.info({ err: err.message, code: err.code }, 'TLS handshake refused'))
    // Sockets still in the handshake are not aedes clients nor TLS sockets yet: close() must end them too.
    server.on('connection', (raw: Socket) => {
      sockets.add(raw)
      raw.once('close', () => sockets.delete(raw))
    })
  }
  try {
    server.listen(opts.port, opts.host)
    await once(server, 'listening')
  } catch (err) {
    await new Promise<void>((r) => broker.close(() => r()))
    const code = (err as NodeJS.ErrnoException).code
    const hint = listenHint(code, 'mqtt.listen.host', 'change mqtt.listen.port')
    throw new ConfigError(`hub.json: mqtt.listen: cannot listen on ${opts.host}:${opts.port}${code ? ` (${code})` : ''}${hint ? `; ${hint}` : ''}`, { cause: err })
  }
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port
  const url = `${opts.tls ? 'mqtts' : 'mqtt'}://${connectHost(opts.host)}:${port}`
  // The logins it admits now: hub.json's and the store's (a hub passes its store's accounts as `accounts`, no lists).
  const logins = accounts.countByKind()
  log.info({ url, tls: opts.tls !== undefined, stations: logins.station ?? 0, vehicles: logins.vehicle ?? 0, allowAnonymous: opts.allowAnonymous ?? false }, 'embedded broker listening')

  let closing: Promise<void> | undefined
  return {
    port,
    url,
    hubCredentials,
    admit() {
      admitting = true
    },
    requests: inProcessRequests(broker),
    ...(opts.tls
      ? {
          inProcess: () => {
            const [hubSide, brokerSide] = duplexPair()
            broker.handle(brokerSide)
            return hubSide
          },
        }
      : {}),
    async stats() {
      const sessionsByLogin: Record<string, number> = {}
      let queuedMessages = 0
      for (const id of quota.allSessions()) {
        const login = loginOfSessionId(id)
        sessionsByLogin[login] = (sessionsByLogin[login] ?? 0) + 1
      }
      for (const id of new Set([...quota.allSessions(), ...Object.keys((broker as unknown as { clients: Record<string, Client> }).clients)])) queuedMessages += store.queued(id)
      const { clientsCount, subsCount } = await store.persistence.countOffline()
      return { connectionsByLogin: quota.liveByLogin(), sessionsByLogin, storedSessions: clientsCount, storedSubscriptions: subsCount, queuedMessages, droppedMessages: store.dropped }
    },
    disconnect(logins) {
      const gone = new Set(logins)
      for (const c of Object.values((broker as unknown as { clients: Record<string, Client> }).clients)) {
        const id = sessions.get(c)?.identity.id
        if (id !== undefined && gone.has(id)) {
          log.info({ login: id }, 'account removed or its password changed: connection closed')
          c.close()
        }
      }
    },
    close() {
      closing ??= (async () => {
        pacer.close()
        stationPacer.close()
        const serverClosed = new Promise<void>((r) => server.close(() => r()))
        await new Promise<void>((r) => broker.close(() => r()))
        // Connections that never sent CONNECT are not aedes clients yet.
        for (const s of sockets) s.destroy()
        await serverClosed
      })()
      return closing
    },
  }
}

/** Two connected in-memory streams: what one writes the other reads; destroying one ends both. */
function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        peer().push(chunk)
        cb()
      },
      final(cb) {
        peer().push(null)
        cb()
      },
      destroy(err, cb) {
        peer().destroy()
        cb(err)
      },
    })
  const a: Duplex = make(() => b)
  const b: Duplex = make(() => a)
  return [a, b]
}

/** The host a local client should dial for a listen address. */
function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '[::1]'
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/**
 * Lower the Session Expiry aedes granted this connection, and say so in the
 * CONNACK as MQTT 5 requires [MQTT-3.2.2.3.2]. aedes 2 has one global cap
 * (`sessionExpiryIntervalLimit`); these are the fields it sets from it, read
 * before the CONNACK is written (broker-embedded.test.ts checks the CONNACK).
 */
function capSessionExpiry(client: Client, maxSeconds: number): void {
  const c = client as Client & { sessionExpiryInterval: number; _sessionExpiryClamped?: boolean; clean: boolean }
  if (c.sessionExpiryInterval <= maxSeconds) return
  c.sessionExpiryInterval = maxSeconds
  c._sessionExpiryClamped = true
}

/** An MQTT 5 client that sent an empty id learns the one it got [MQTT-3.2.2-16] (aedes only does so for ids it makes itself). */
function reportAssignedId(client: Client): void {
  ;(client as Client & { _assignedClientId?: string })._assignedClientId = client.id
}
