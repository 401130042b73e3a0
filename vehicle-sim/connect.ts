/**
 * One vehicle's MQTT connection and request client. Connecting never hangs:
 * a wrong password, a refused or unreachable broker and a handshake that
 * does not finish within `connectTimeoutMs` all become a ConnectError with
 * its own code.
 */
import { randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt'
import { VoltwayError, createRpcClient, isTlsErrorCode, type RpcClient } from '../protocol/index.js'
import { ConnectError } from './errors.js'

export interface ConnectionSettings {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  url: string
  hubId: string
  vehicleId: string
  password: string
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. */
  mqttVersion: 4 | 5
  connectTimeoutMs: number
  /** How long every request waits for its answer, ms (--timeout-ms); absent: `timeoutFor` the op, else 10 s. */
  requestTimeoutMs?: number
  /** Each op's default wait, ms (vehicle-sim/settings.ts defaultTimeoutMs). */
  timeoutFor?: (op: string) => number
  /**
   * Times a request unanswered after its wait is sent again with the same id, each copy
   * waiting again (--retries; protocol/rpc-client.ts). Default 0: each request once.
   */
  retries?: number
  /** CA certificates (PEM) to trust for an mqtts:// url (`--ca`); default: the system's CAs. */
  ca?: Buffer
}

export interface VehicleConnection {
  readonly client: MqttClient
  readonly rpc: RpcClient
  readonly settings: ConnectionSettings
  close(): Promise<void>
}

export interface ConnectOptions {
  /** Reconnect after a lost connection (fleets); one-shot commands fail instead. */
  reconnectPeriodMs?: number
  keepaliveSeconds?: number
}

/** CONNACK refusals: MQTT 3.1.1 return codes 4/5 [MQTT-3.2.2.3], MQTT 5 reason codes 0x86/0x87. */
const AUTH_REFUSALS = new Set<unknown>([4, 5, 134, 135])

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
}

export async function connectVehicle(s: ConnectionSettings, opts: ConnectOptions = {}): Promise<VehicleConnection> {
  const client = await openMqtt(s, opts)
  const rpc = withOpTimeouts(createRpcClient({ client, hubId: s.hubId, vehicleId: s.vehicleId, retries: s.retries ?? 0 }), s)
  try {
    await rpc.start()
  } catch (err) {
    client.end(true)
    throw new ConnectError('CONNECTION_LOST', `cannot subscribe to the reply topic of vehicle ${s.vehicleId}: ${(err as Error).message}`)
  }
  return {
    client,
    rpc,
    settings: s,
    async close() {
      await rpc.close()
      await endClient(client)
    },
  }
}

/**
 * Each request waits its op's default unless the caller says otherwise; a
 * TIMEOUT then carries `defaultTimeoutMs` (the op's default wait), so its hint
 * can tell a hub that did not answer at all from a wait cut short.
 */
function withOpTimeouts(rpc: RpcClient, s: ConnectionSettings): RpcClient {
  const byDefault = (op: string): number => s.timeoutFor?.(op) ?? 10_000
  const waitFor = (op: string): number => s.requestTimeoutMs ?? byDefault(op)
  return {
    get pending() {
      return rpc.pending
    },
    start: () => rpc.start(),
    close: () => rpc.close(),
    async request(op, args, opts = {}) {
      try {
        return await rpc.request(op, args, { timeoutMs: waitFor(op), ...opts })
      } catch (err) {
        if (err instanceof VoltwayError && err.code === 'TIMEOUT' && err.details?.op === op) {
          throw new VoltwayError('TIMEOUT', err.message, { ...err.details, defaultTimeoutMs: byDefault(op) })
        }
        throw err
      }
    },
  }
}

function openMqtt(s: ConnectionSettings, opts: ConnectOptions): Promise<MqttClient> {
  const options: IClientOptions = {
    username: s.vehicleId,
    password: s.password,
    clientId: `${s.vehicleId}-${randomBytes(4).toString('hex')}`,
    protocolVersion: s.mqttVersion,
    // Our own timer (below) decides; MQTT.js' connack timer is only a backstop.
    connectTimeout: s.connectTimeoutMs + 1000,
    reconnectPeriod: 0,
    keepalive: opts.keepaliveSeconds ?? 60,
    clean: true,
    ...(s.ca ? { ca: s.ca } : {}),
  }
  return new Promise<MqttClient>((resolve, reject) => {
    let client: MqttClient
    try {
      client = mqttConnect(s.url, options)
    } catch (err) {
      reject(new ConnectError('BROKER_UNREACHABLE', `cannot use broker URL ${s.url}: ${(err as Error).message}`))
      return
    }
    const fail = (e: ConnectError): void => {
      cleanup()
      client.end(true)
      reject(e)
    }
    const timer = setTimeout(() => {
      fail(new ConnectError('CONNECT_TIMEOUT', `no MQTT handshake with ${s.url} within ${s.connectTimeoutMs} ms`))
    }, s.connectTimeoutMs)
    const onConnect = (): void => {
      cleanup()
      if (opts.reconnectPeriodMs) client.options.reconnectPeriod = opts.reconnectPeriodMs
      client.on('error', () => {
        // After connecting, errors surface as request timeouts; without a listener they would crash the process.
      })
      resolve(client)
    }
    const onError = (err: Error & { code?: unknown }): void => {
      if (AUTH_REFUSALS.has(err.code)) {
        fail(new ConnectError('UNAUTHORIZED', `${s.url} refused vehicle ${s.vehicleId}: ${err.message.replace(/^Connection refused: /, '').toLowerCase()}`))
      } else if (/connack timeout/i.test(err.message)) {
        fail(new ConnectError('CONNECT_TIMEOUT', `no MQTT handshake with ${s.url} within ${s.connectTimeoutMs} ms`))
      } else {
        // MQTT.js' packet parser fails with a bare Error (no code): something answered, in another protocol.
        if (err.code === undefined) {
          fail(new ConnectError('BROKER_UNREACHABLE', `cannot connect to ${s.url}: the answer is not MQTT (${err.message})`, { notMqtt: true }))
          return
        }
        const tls = isTlsErrorCode(err.code)
        const why = tls
          ? `TLS: ${err.message} (${String(err.code)}); pass --ca FILE with the CA that signed the broker's certificate, and a --hub host the certificate names`
          : typeof err.code === 'string' && Object.hasOwn(SOCKET_ERRORS, err.code) ? SOCKET_ERRORS[err.code] : err.message
        fail(new ConnectError('BROKER_UNREACHABLE', `cannot connect to ${s.url}: ${why}`))
      }
    }
    const onClose = (): void => fail(new ConnectError('CONNECTION_LOST', `${s.url} closed the connection before accepting vehicle ${s.vehicleId}`))
    const cleanup = (): void => {
      clearTimeout(timer)
      client.removeListener('connect', onConnect)
      client.removeListener('error', onError)
      client.removeListener('close', onClose)
    }
    // Requests and replies are small and latency-bound: without this, Nagle's algorithm and
    // delayed ACKs add ~40 ms to each round trip on a quiet connection.
    client.on('connect', () => setNoDelay(client))
    client.on('connect', onConnect)
    client.on('error', onError)
    client.on('close', onClose)
  })
}

function setNoDelay(client: MqttClient): void {
  const stream: unknown = client.stream
  if (stream instanceof Socket) stream.setNoDelay(true)
}

/** Disconnect politely, but never wait more than a second for it. */
async function endClient(client: MqttClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    client.endAsync(false).catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        client.end(true)
        resolve()
      }, 1000)
    }),
  ])
  clearTimeout(timer)
}
