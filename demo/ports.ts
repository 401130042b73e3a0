/**
 * Ports picked ahead of time (a federation's peers must know each other's
 * URLs before any hub starts). They come from below Linux's ephemeral range
 * (32768-60999), where the kernel never hands out ports on its own, so a
 * socket opened elsewhere between the pick and the bind cannot take them.
 */
import { createServer } from 'node:net'

const LOW = 20_000
const HIGH = 32_000

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

/** A port that is free on `host` now, outside the ephemeral range. */
export async function pickPort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW))
    if (await canListen(port, host)) return port
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} on ${host}`)
}
