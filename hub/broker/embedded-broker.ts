/**
 * The hub's embedded MQTT broker (aedes 2, MQTT 3.1.1 and 5) with the access
 * control of PROTOCOL.md: every client logs in, its client id is its username
 * (like Mosquitto's `use_username_as_clientid`, so ids cannot be spoofed and
 * sessions cannot be taken over), and every publish, subscription, delivery
 * and Last Will is checked against the permission table.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { once, type EventEmitter } from 'node:events'
import { Aedes, type AuthErrorCode, type Client, type ConnectPacket, type PublishPacket } from 'aedes'
import { pino, type Logger } from 'pino'
import { ConfigError } from '../../protocol/index.js'
import { canPublish, canRead, canSubscribe, canWill, compileRules, type Identity } from './permissions.js'
import { AccountTable, assertNoIdentityCollisions, defaultHubUsername, randomPassword, type Account, type StationCredential, type VehicleCredential } from './identities.js'

export interface EmbeddedBrokerOptions {
  /** Interface to listen on (hub.json `mqtt.listen.host`). */
  host: string
  /** Port to listen on; 0 picks a free one (see `EmbeddedBroker.port`). */
  port: number
  hubId: string
  stations: readonly StationCredential[]
  vehicles: readonly VehicleCredential[]
  /** hub.json `mqtt.allowAnonymous`: anonymous clients may then read the public state topics, nothing else. */
  allowAnonymous?: boolean
  logger?: Logger
  /** Disconnect a subscriber whose socket has not drained after this long, so it cannot stall delivery to all. */
  drainTimeoutMs?: number
  /** Deepest topic accepted in PUBLISH/SUBSCRIBE/Will; ours have at most 6 levels. */
  maxTopicLevels?: number
  /** Largest MQTT packet accepted. */
  maxPacketBytes?: number
  /** A socket that has not completed CONNECT after this long is closed (docs/operator-guide.md "Limits"). Default 10 s. */
  connectTimeoutMs?: number
}

export interface EmbeddedBroker {
  port: number
  /** Where the hub connects, e.g. `mqtt://127.0.0.1:1883` (a wildcard listen host becomes loopback). */
  url: string
  /** The hub's own login, random per start: full access to `voltway/v1/#`. */
  hubCredentials: { username: string; password: string }
  close(): Promise<void>
}

const NOT_AUTHORIZED = 5 as AuthErrorCode
const BAD_USERNAME_OR_PASSWORD = 4 as AuthErrorCode
const IDENTIFIER_REJECTED = 2 as AuthErrorCode
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

  const accounts = new AccountTable()
  accounts.add({ kind: 'hub', id: hubCredentials.username }, hubCredentials.password)
  for (const s of opts.stations) accounts.add({ kind: 'station', id: s.stationId }, s.password)
  for (const v of opts.vehicles) accounts.add({ kind: 'vehicle', id: v.vehicleId }, v.password)

  /** Authenticated clients only; a client missing here may do nothing. */
  const sessions = new WeakMap<Client, Account>()
  /** The Will of each connecting client, by object identity, to tell a will from an ordinary publish. */
  const wills = new WeakMap<Client, NonNullable<ConnectPacket['will']>>()
  const who = (id: Identity): string => (id.kind === 'anonymous' ? 'anonymous' : `${id.kind} ${id.id}`)

  const broker = await Aedes.createBroker({
    drainTimeout: opts.drainTimeoutMs ?? 10_000,
    maxTopicLevels: opts.maxTopicLevels ?? 16,
    maximumPacketSize: opts.maxPacketBytes ?? 1024 * 1024,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    // Usernames become client ids; MQTT 3.1 would otherwise cap them at 23 characters.
    maxClientsIdLength: 256,
    // Bound what a client cycling identities can pin in memory (MQTT 5 sessions and delayed wills).
    sessionExpiryIntervalLimit: 7 * 24 * 3600,
    pendingSessionsLimit: Math.max(1000, 4 * (opts.stations.length + opts.vehicles.length + 1)),

    preConnect(client, packet, callback) {
      // The session belongs to the login: the client id is the username, or `<username>:<suffix>`
      // for a second connection of the same login (say mosquitto_sub beside mosquitto_pub).
      // ':' is outside the id alphabet, so no id can name another login's session.
      if (packet.username !== undefined && !packet.clientId.startsWith(`${packet.username}:`)) packet.clientId = packet.username
      if (packet.will) wills.set(client, packet.will)
      callback(null, true)
    },

    authenticate(client, username, password, done) {
      let account: Account
      if (username === undefined) {
        if (!opts.allowAnonymous) {
          log.warn({ clientId: client.id }, 'anonymous client refused')
          return done(authError(NOT_AUTHORIZED, 'not authorized'), false)
        }
        // An anonymous client may not take over a named identity's session.
        if (accounts.has(client.id)) return done(authError(IDENTIFIER_REJECTED, 'identifier rejected'), false)
        account = ANONYMOUS
      } else {
        const found = accounts.verify(username, password)
        if (!found) {
          log.warn({ username }, 'login refused: unknown username or wrong password')
          return done(authError(BAD_USERNAME_OR_PASSWORD, 'bad username or password'), false)
        }
        account = found
      }
      const will = wills.get(client)
      if (will && !canWill(account.rules, will.topic)) {
        // Refuse at once rather than silently dropping the will later: the misconfigured client learns now.
        log.warn({ client: who(account.identity), topic: will.topic }, 'login refused: Last Will to a topic this client may not use')
        return done(authError(NOT_AUTHORIZED, 'not authorized'), false)
      }
      sessions.set(client, account)
      done(null, true)
    },

    authorizePublish(client, packet: PublishPacket, callback) {
      const account = client ? sessions.get(client) : undefined
      // Wills are authorized here again when they fire [aedes CVE: wills once skipped authorization].
      const isWill = client !== null && wills.get(client) === packet
      const ok = account !== undefined && (isWill ? canWill(account.rules, packet.topic) : canPublish(account.rules, packet.topic))
      if (ok) return callback(null)
      log.info({ client: account ? who(account.identity) : null, topic: packet.topic, will: isWill }, 'publish refused')
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
      if (account !== undefined && canSubscribe(account.rules, sub.topic)) return callback(null, sub)
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
  broker.on('clientError', (client: Client, err: Error) => log.debug({ clientId: client.id, err: err.message }, 'client error'))
  broker.on('connectionError', (client: Client, err: Error) => log.debug({ clientId: client.id, err: err.message }, 'connection error'))

  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    // Small request/response packets: Nagle plus delayed ACKs would stall each round trip (see protocol/no-delay.ts).
    socket.setNoDelay(true)
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    broker.handle(socket)
  })
  try {
    server.listen(opts.port, opts.host)
    await once(server, 'listening')
  } catch (err) {
    await new Promise<void>((r) => broker.close(() => r()))
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(`hub.json: mqtt.listen: cannot listen on ${opts.host}:${opts.port}${code ? ` (${code})` : ''}`)
  }
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port
  const url = `mqtt://${connectHost(opts.host)}:${port}`
  log.info({ url, stations: opts.stations.length, vehicles: opts.vehicles.length, allowAnonymous: opts.allowAnonymous ?? false }, 'embedded broker listening')

  let closing: Promise<void> | undefined
  return {
    port,
    url,
    hubCredentials,
    close() {
      closing ??= (async () => {
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

/** The host a local client should dial for a listen address. */
function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '[::1]'
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}
