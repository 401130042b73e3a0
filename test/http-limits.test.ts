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

/** Everything the server sends on `s` until it closes the connection, split into status and JSON body. */
function answerOf(s: Socket): Promise<{ status: number; headers: string; body: unknown }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    s.on('data', (d: Buffer) => parts.push(d))
    s.on('error', () => undefined)
    s.once('close', () => {
      const raw = Buffer.concat(parts).toString('utf8')
      const end = raw.indexOf('\r\n\r\n')
      if (end < 0) return reject(new Error(`no HTTP answer before the close: ${JSON.stringify(raw.slice(0, 200))}`))
      resolve({ status: Number(raw.split(' ')[1]), headers: raw.slice(0, end), body: JSON.parse(raw.slice(end + 4)) as unknown })
    })
  })
}

t.test('a request too slow, headers too large or bytes that are not HTTP are answered in the error envelope, then the connection is closed', async (t) => {
  const hub = await startTestHub(undefined, { httpLimits: LIMITS })
  t.teardown(() => hub.close())
  const port = Number(new URL(hub.httpUrl).port)

  const [headers, body, big, garbage, smuggled, extensions] = await Promise.all([
    open(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '),
    // A path no route serves: its body is read before the 404 (a federation route without a token answers 401 at once).
    open(port, 'POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":'),
    open(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`),
    open(port, 'HELLO THERE\r\n\r\n'),
    open(port, 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
    open(port, `POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(17 * 1024)}\r\n`),
  ])
  const cases = [
    [headers, 'headers that never finish', 408, 'REQUEST_TIMEOUT', /^request headers did not arrive within 300 ms; send the request again, its headers in one go$/],
    [body, 'a body shorter than its Content-Length', 408, 'REQUEST_TIMEOUT', /^request body did not arrive within 600 ms of the request's start; send the request again with a body exactly as long as its Content-Length$/],
    [big, 'headers over 16 KiB', 431, 'HEADERS_TOO_LARGE', /^request headers are larger than 16 KiB, the most this hub reads; send only the headers/],
    [garbage, 'bytes that are not HTTP', 400, 'BAD_REQUEST', /^request is not valid HTTP\/1\.1 \(HPE_[A-Z_]+\); send a well-formed request/],
    [smuggled, 'both Content-Length and Transfer-Encoding', 400, 'BAD_REQUEST', /^request is not valid HTTP\/1\.1 \(HPE_[A-Z_]+\)/],
    [extensions, 'chunk extensions over 16 KiB', 413, 'PAYLOAD_TOO_LARGE', /^the chunk extensions of the body are larger than 16 KiB, the most this hub reads; send the body with a Content-Length/],
  ] as const
  const answers = await Promise.all(cases.map(([s]) => answerOf(s)))
  for (const [i, [, label, status, code, message]] of cases.entries()) {
    const a = answers[i]
    t.equal(a?.status, status, `${label}: ${status}`)
    t.match(a?.headers, /\r\ncontent-type: application\/json/i, `${label}: JSON`)
    t.match(a?.headers, /\r\nconnection: close/i, `${label}: the connection is closed`)
    t.match(a?.body, { error: { code, message } }, `${label}: in the envelope`)
  }
  t.match(answers[0]?.body, { error: { details: { headersTimeoutMs: 300, requestTimeoutMs: 600 } } }, 'a timeout names both limits')
  t.match(answers[5]?.body, { error: { details: { limitBytes: 16384 } } }, 'a 413 names its limit, as the body limit\'s does')
  t.equal((await rawRequest(port, 'GET', '/healthz')).status, 200, 'the server still answers')
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

t.test('a refusal is not sent in place of the answer of a request before it on the connection; a late next request is told its headers were late', async (t) => {
  const hub = await startTestHub(undefined, { httpLimits: { ...LIMITS, keepAliveTimeoutMs: 5000, idleTimeoutMs: 10_000 } })
  t.teardown(() => hub.close())
  const port = Number(new URL(hub.httpUrl).port)
  // A complete request, then bytes that are not HTTP in the same write: the first one runs, so a 400 saying
  // that nothing changed must not stand for its answer; its own answer comes, then the connection is closed.
  for (const request of ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', `DELETE /federation/v1/holds/h-1 HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k-1\r\nContent-Length: 0\r\n\r\n`]) {
    const pipelined = await open(port, `${request}GARBAGE\r\n\r\n`)
    const bytes: Buffer[] = []
    pipelined.on('data', (d: Buffer) => bytes.push(d))
    pipelined.on('error', () => undefined)
    await onceWithTimeout(pipelined, 'close', 5000)
    const got = Buffer.concat(bytes).toString('utf8')
    t.notMatch(got, /BAD_REQUEST/, 'no refusal in place of the first answer')
    t.equal(got.match(/^HTTP\/1\.1 /gm)?.length, 1, `one answer, the first request's: ${got.split('\r\n')[0]}`)
    t.match(got, /^HTTP\/1\.1 (200|204|401) /, 'its own status')
  }
  // One request answered, then the next one's headers never finish: its 408 is about headers, not a body.
  const keptAlive = await open(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  const first = await new Promise<string>((resolve) => {
    let got = ''
    const onData = (d: Buffer): void => {
      got += d.toString('utf8')
      if (/\r\n\r\n\{.*\}$/s.test(got)) {
        keptAlive.off('data', onData)
        resolve(got)
      }
    }
    keptAlive.on('data', onData)
  })
  t.match(first, /^HTTP\/1\.1 200 /)
  const late = answerOf(keptAlive)
  keptAlive.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ')
  t.match((await late).body, { error: { code: 'REQUEST_TIMEOUT', message: /^request headers did not arrive within 300 ms/ } })
})

t.test('a request already answered (401 before its body came) gets no second answer when its body is late or bad', async (t) => {
  const hub = await startTestHub(undefined, { httpLimits: { ...LIMITS, keepAliveTimeoutMs: 5000, idleTimeoutMs: 10_000 } })
  t.teardown(() => hub.close())
  const port = Number(new URL(hub.httpUrl).port)
  const head = 'POST /federation/v1/holds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
  const everything = async (s: Socket, later?: string): Promise<string> => {
    const bytes: Buffer[] = []
    s.on('data', (d: Buffer) => {
      bytes.push(d)
      // The 401 came: then the rest of the request (bad bytes), if any.
      if (later !== undefined && bytes.length === 1) s.write(later)
    })
    s.on('error', () => undefined)
    await onceWithTimeout(s, 'close', 5000)
    return Buffer.concat(bytes).toString('utf8')
  }
  const late = await everything(await open(port, `${head}Content-Length: 100\r\n\r\n{"a":`))
  const extensions = await everything(await open(port, `${head}Transfer-Encoding: chunked\r\n\r\n`), `1;${'e'.repeat(17 * 1024)}\r\n`)
  for (const [label, got] of [['a late body', late], ['chunk extensions over 16 KiB', extensions]] as const) {
    t.match(got, /^HTTP\/1\.1 401 /, `${label}: the 401`)
    t.equal(got.match(/HTTP\/1\.1 \d{3} /g)?.length, 1, `${label}: one answer only: ${got}`)
  }
})
