/**
 * HTTP over a bare TCP socket: the request line goes out byte for byte (no
 * client library normalizes `..`, `//` or percent-encoding on the way).
 */
import { connect, type Socket } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** One request on its own connection (`Connection: close`); resolves the parsed answer. */
export function rawRequest(port: number, method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
    if (body !== '' || method !== 'GET') lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
    // write, not end: Node's HTTP server aborts a pending request when the client half-closes.
    s.write(`${lines.join('\r\n')}\r\n\r\n${body}`)
    const parts: Buffer[] = []
    s.on('data', (d: Buffer) => parts.push(d))
    s.on('error', reject)
    s.on('close', () => {
      const raw = Buffer.concat(parts)
      const end = raw.indexOf('\r\n\r\n')
      const head = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1')
      const [statusLine = '', ...headerLines] = head.split('\r\n')
      const status = Number(statusLine.split(' ')[1])
      if (!Number.isInteger(status)) return reject(new Error(`no HTTP answer to ${method} ${path}: ${JSON.stringify(head.slice(0, 200))}`))
      const hs: Record<string, string> = {}
      for (const l of headerLines) {
        const i = l.indexOf(':')
        if (i > 0) hs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
      }
      resolve({ status, headers: hs, body: decodeChunked(end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4), hs) })
    })
  })
}

function decodeChunked(body: Buffer, headers: Record<string, string>): string {
  if (headers['transfer-encoding'] !== 'chunked') return body.toString('utf8')
  const out: Buffer[] = []
  let rest = body
  for (;;) {
    const nl = rest.indexOf('\r\n')
    const size = parseInt(rest.subarray(0, nl).toString('latin1'), 16)
    if (!(size > 0)) return Buffer.concat(out).toString('utf8')
    out.push(rest.subarray(nl + 2, nl + 2 + size))
    rest = rest.subarray(nl + 2 + size + 2)
  }
}

/**
 * Resolves when the server closes `socket` (or it errors), with how long that
 * took in ms since this call; Infinity (and the socket destroyed) when it is
 * still open after `giveUpMs`.
 */
export function closedWithin(socket: Socket, giveUpMs = 5000): Promise<number> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(Infinity)
      socket.destroy()
    }, giveUpMs)
    socket.on('error', () => undefined)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(performance.now() - t0)
    })
    // Read (and drop) what the server sends, or the end of the stream is never seen.
    socket.resume()
  })
}
