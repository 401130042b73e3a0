/**
 * The agent's health loop: while the agent is healthy it toggles the
 * heartbeat pin of the external hardware watchdog (whose output is wired in
 * series with the relay coil: no edge within the chip's period and the relay
 * opens), and it tells systemd's watchdog it is alive.
 *
 * Two verdicts, on purpose:
 * - `alive` (the event loop runs and the control cycle is not stuck) feeds
 *   systemd: a hang is fixed by a restart.
 * - `safe` (alive, the relay state is known, the station is not faulted, so
 *   the meter reads) feeds the hardware watchdog: when the agent cannot vouch
 *   for the contacts, the chip opens them. A meter fault does not restart the
 *   agent (a restart does not mend a meter; the station reports the fault and
 *   waits for `enable`).
 */
import type { Logger } from 'pino'
import type { OutputPin } from '../hw/types.js'
import type { SdNotifier } from './sd-notify.js'

export interface Health {
  alive: boolean
  safe: boolean
  /** Why not, for the log. */
  reason?: string
}

export interface HealthLoopOptions {
  check: () => Health
  /** The external watchdog's trigger input; toggled every periodMs / 4 while safe. */
  pin?: { output: OutputPin; periodMs: number }
  systemd?: SdNotifier
  log: Logger
}

export class HealthLoop {
  readonly #o: HealthLoopOptions
  #timer: ReturnType<typeof setInterval> | undefined
  #toggling = false
  #lastVerdict = ''

  constructor(opts: HealthLoopOptions) {
    this.#o = opts
  }

  /** How often the loop beats, ms: a quarter of the chip's period, half of systemd's (sd_watchdog_enabled(3)). */
  get intervalMs(): number | undefined {
    const periods = [this.#o.pin ? this.#o.pin.periodMs / 4 : Infinity, this.#o.systemd?.watchdogMs ? this.#o.systemd.watchdogMs / 2 : Infinity]
    const ms = Math.min(...periods)
    return Number.isFinite(ms) ? Math.max(20, Math.floor(ms)) : undefined
  }

  start(): void {
    void this.#o.systemd?.notify('READY=1')
    this.beat()
    const ms = this.intervalMs
    if (ms !== undefined) this.#timer = setInterval(() => this.beat(), ms)
  }

  /** One beat (also callable from tests). */
  beat(): void {
    const h = this.#o.check()
    const verdict = h.safe ? 'ok' : h.alive ? `unsafe: ${h.reason ?? ''}` : `hung: ${h.reason ?? ''}`
    if (verdict !== this.#lastVerdict) {
      if (h.safe) this.#o.log.info('healthy: feeding the watchdogs')
      else this.#o.log.warn({ alive: h.alive, reason: h.reason }, h.alive ? 'not safe: the hardware watchdog will open the relay' : 'stuck: no watchdog feed')
      this.#lastVerdict = verdict
    }
    if (h.alive && this.#o.systemd?.watchdogMs) void this.#o.systemd.notify('WATCHDOG=1')
    const pin = this.#o.pin?.output
    if (h.safe && pin && !this.#toggling) {
      this.#toggling = true
      pin
        .toggle()
        .catch((err: unknown) => this.#o.log.warn({ err: String(err) }, 'toggling the watchdog pin failed'))
        .finally(() => {
          this.#toggling = false
        })
    }
  }

  /** Stop beating; `notify`: tell systemd the agent is stopping (not for a simulated crash). */
  async stop(notify = true): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    if (notify) await this.#o.systemd?.notify('STOPPING=1')
  }
}
