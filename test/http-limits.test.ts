/**
 * Half-open requests are closed: the hub's HTTP server has header, request,
 * keep-alive and idle limits, and its embedded MQTT broker closes a socket
 * that never completes CONNECT, so sockets that never finish cannot pile up
 * and starve `/healthz` or MQTT logins.
 */
import { connect, type Socket } from 'node:net'
import { pino } from 'pino'
import t from 'tap'
import { startEmbeddedBroker } from '../hub/broker/index.js'
import { DEFAULT_HTTP_LIMITS } from '../hub/http/limits.js'
import { startTestHub } from './helpers/hub.js'
import { closedWithin, rawRequest } from './helpers/http-raw.js'
import { onceWithTimeout } from './helpers/net.js'

const LIMITS = { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300, idleTimeoutMs: 2000, checkIntervalMs: 50 }

async function open(port: number, send: string): Promise<Socket> {
  const s = connect(port, '127.0.0.1')
  await onceWithTimeout(s, 'connect')
  if (send !== '') s.write(send)
  return s
}

t.test('the default HTTP limits are finite', async (t) => {
  for (const [k, v] of Object.entries(DEFAULT_HTTP_LIMITS)) t.ok(v > 0 && Number.isFinite(v), `${k} = ${v}`)
  t.ok(DEFAULT_HTTP_LIMITS.headersTimeoutMs <= DEFAULT_HTTP_LIMITS.requestTimeoutMs, 'headers come within the request time')
})

t.test('half-open HTTP requests are closed: headers never finished, body never finished, idle keep-alive', async (t) => {
  const hub = await startTestHub(undefined, { httpLimits: LIMITS })
  t.teardown(() => hub.close())
  const port = Number(new URL(hub.httpUrl).port)

  const silent = await open(port, '')
  const partialHeaders = await open(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ')
  const partialBody = await open(port, 'POST /federation/v1/holds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":')
  const idle = await open(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  const closed = await Promise.all([silent, partialHeaders, partialBody, idle].map((s) => closedWithin(s)))
  const [silentMs, headersMs, bodyMs, idleMs] = closed.map(Math.round)
  t.comment(`closed after: silent ${silentMs} ms, partial headers ${headersMs} ms, partial body ${bodyMs} ms, idle keep-alive ${idleMs} ms`)
  for (const [what, ms] of [['a socket that sends nothing', silentMs], ['unfinished headers', headersMs], ['an unfinished body', bodyMs], ['an idle keep-alive socket', idleMs]] as const) {
    t.ok((ms ?? Infinity) < LIMITS.idleTimeoutMs, `${what} is closed before the idle timeout (${ms} ms)`)
  }
})

t.test('many half-open sockets do not starve /healthz', async (t) => {
  const hub = await startTestHub(undefined, { httpLimits: LIMITS })
  t.teardown(() => hub.close())
  const port = Number(new URL(hub.httpUrl).port)
  const sockets = await Promise.all(Array.from({ length: 200 }, () => open(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n')))
  const health = await rawRequest(port, 'GET', '/healthz')
  t.equal(health.status, 200, '/healthz answers beside 200 half-open sockets')
  const closed = await Promise.all(sockets.map((s) => closedWithin(s)))
  t.ok(closed.every(Number.isFinite), 'every half-open socket was closed by the server')
})

t.test('an MQTT socket that never completes CONNECT is closed', async (t) => {
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'feira', stations: [], vehicles: [], logger: pino({ level: 'silent' }), connectTimeoutMs: 300 })
  t.teardown(() => broker.close())
  const silent = await open(broker.port, '')
  // The start of a CONNECT packet (fixed header announcing 30 bytes), never completed.
  const partial = await open(broker.port, '')
  partial.write(Buffer.from([0x10, 30, 0x00, 0x04, 0x4d, 0x51]))
  const [silentMs, partialMs] = (await Promise.all([closedWithin(silent), closedWithin(partial)])).map(Math.round)
  t.comment(`closed after: silent ${silentMs} ms, partial CONNECT ${partialMs} ms`)
  t.ok((silentMs ?? Infinity) < 3000, 'a socket that sends nothing')
  t.ok((partialMs ?? Infinity) < 3000, 'a socket that sends half a CONNECT')
})
