/**
 * Ports picked ahead of time (a federation's peers must know each other's
 * URLs before any hub starts). They come from below Linux's ephemeral range
 * (32768-60999), where the kernel never hands out ports on its own, so a
 * socket opened elsewhere between the pick and the bind cannot take them.
 *
 * A picked port is only tested, not held, so this process remembers every
 * port it handed out and never hands one out again: two listeners of one
 * demo (or of one test) cannot be given the same port. Another process
 * picking from the same range may still take one between pick and bind.
 */
import { createServer } from 'node:net'

const LOW = 20_000
const HIGH = 32_000

/** Every port handed out (or being tested) in this process, whatever the host: never picked again. */
const handedOut = new Set<number>()

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

/** A port that is free on `host` now, outside the ephemeral range, and never handed out before by this process. */
export async function pickPort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW))
    if (handedOut.has(port)) continue
    // Reserved before the test, so a concurrent call cannot test (and hand out) the same port.
    handedOut.add(port)
    if (await canListen(port, host)) return port
    // Held by another program: left reserved, as it is no use to try it again.
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} on ${host} (${handedOut.size} already handed out or taken)`)
}

/** `n` distinct free ports (see pickPort), picked concurrently. */
export function pickPorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => pickPort(host)))
}
