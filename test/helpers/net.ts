/** Small test utilities: free ports, waiting on events with a timeout. */
import { once } from 'node:events'
import { connect } from 'node:net'
import { pickPort } from '../../demo/ports.js'

/** A free port for a server a test starts later (outside the ephemeral range, see demo/ports.ts). */
export const freePort = (): Promise<number> => pickPort()

/** Resolve when `fn` returns truthy, polling every `everyMs`; reject after `timeoutMs`. */
export async function waitUntil<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = 'condition', everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** `em` is any Node-style emitter (typed emitters such as MqttClient included). */
export async function onceWithTimeout(em: object, event: string, timeoutMs = 5000): Promise<unknown[]> {
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(), timeoutMs)
  try {
    return await once(em as NodeJS.EventEmitter, event, { signal: ac.signal })
  } catch (err) {
    if (ac.signal.aborted) throw new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`)
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/** Resolve once something accepts TCP connections on host:port. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  await waitUntil(
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, host)
        s.once('connect', () => {
          s.destroy()
          resolve(true)
        })
        s.once('error', () => resolve(false))
      }),
    timeoutMs,
    `port ${port}`,
    25,
  )
}
