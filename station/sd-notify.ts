/**
 * systemd's notification protocol (sd_notify(3)): `READY=1` once the agent
 * runs, `WATCHDOG=1` from its health loop, `STOPPING=1` on a clean stop.
 *
 * Node cannot send the AF_UNIX datagram itself (`dgram` is UDP only) and the
 * npm wrappers (`sd-notify`) are native addons; so we spawn the
 * `systemd-notify` program that every systemd machine has. It waits until
 * systemd has read the message (`BARRIER=1`), which is what lets systemd
 * attribute a message from a short-lived child to the service: the unit needs
 * `NotifyAccess=all` (station/commands/service.ts). One notification is in
 * flight at a time; a hung one is killed after `timeoutMs`.
 */
import { spawn } from 'node:child_process'

export interface SdNotifierOptions {
  socket: string
  /** `WATCHDOG_USEC` / 1000 when this process is the one systemd watches; undefined: no watchdog. */
  watchdogMs: number | undefined
  /** Default `systemd-notify` (found on PATH). */
  program?: string
  timeoutMs?: number
  onError?: (err: Error) => void
}

export class SdNotifier {
  readonly watchdogMs: number | undefined
  readonly #o: SdNotifierOptions
  #inFlight: Promise<void> | undefined

  constructor(opts: SdNotifierOptions) {
    this.#o = opts
    this.watchdogMs = opts.watchdogMs
  }

  /**
   * From the environment systemd gives a `Type=notify` service; undefined
   * outside systemd. `WATCHDOG_PID`, when set, must be this process (sd_watchdog_enabled(3)).
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, pid = process.pid, extra: Partial<SdNotifierOptions> = {}): SdNotifier | undefined {
    const socket = env.NOTIFY_SOCKET
    if (!socket) return undefined
    const usec = Number(env.WATCHDOG_USEC)
    const forMe = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid
    const watchdogMs = Number.isFinite(usec) && usec > 0 && forMe ? Math.floor(usec / 1000) : undefined
    return new SdNotifier({ socket, watchdogMs, ...extra })
  }

  /**
   * Send `fields` (e.g. `READY=1`); resolves when sent or given up, never rejects. A keep-alive
   * (`WATCHDOG=1`) is skipped while another notification is in flight (the next one comes soon);
   * any other (READY, STOPPING, STATUS) waits its turn and is always sent.
   */
  notify(...fields: string[]): Promise<void> {
    const keepAlive = fields.length === 1 && fields[0] === 'WATCHDOG=1'
    if (this.#inFlight && keepAlive) return this.#inFlight
    const run = (this.#inFlight ?? Promise.resolve()).then(() => this.#run(fields))
    const tracked = run.finally(() => {
      if (this.#inFlight === tracked) this.#inFlight = undefined
    })
    this.#inFlight = tracked
    return tracked
  }

  #run(fields: string[]): Promise<void> {
    return new Promise<void>((resolve) => {
      const child = spawn(this.#o.program ?? 'systemd-notify', fields, {
        env: { ...process.env, NOTIFY_SOCKET: this.#o.socket },
        stdio: 'ignore',
      })
      const timer = setTimeout(() => child.kill('SIGKILL'), this.#o.timeoutMs ?? 5000)
      let settled = false
      const done = (err?: Error): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (err) this.#o.onError?.(err)
        resolve()
      }
      child.once('error', (err) => done(err))
      child.once('exit', (code, signal) => done(code === 0 ? undefined : new Error(`systemd-notify ${fields.join(' ')} failed (${signal ?? `exit ${code}`})`)))
    })
  }
}
