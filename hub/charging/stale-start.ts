/**
 * Recovery of charging starts whose run died: a session is opened `starting`
 * and its run (ChargingService.startFor) waits for the station's `start`
 * answer and start reading, up to the command timeout. A hub process that
 * dies in between (kill -9, power cut) leaves the session `starting` for good:
 * its station counts as busy (one active session per station) and a repeat of
 * the request answers IDEMPOTENCY_IN_PROGRESS forever.
 *
 * A session still `starting` (no start reading) `staleStartAfterMs` after it
 * was opened (hub clock; twice the command timeout, well past any live run's
 * own wait) is failed as its run would have failed it on no answer (stop
 * reason NO_ANSWER, nobody billed; a repeat of its request answers TIMEOUT),
 * and its station is sent `stop` (the start may have reached it). The fail is
 * a compare-and-set on `starting` (ChargingStore.failStarting): a session that
 * got its reading meanwhile is never touched, and a run still alive cannot
 * bring it back (markCharging and failSession change only active sessions).
 *
 * Runs at start-up and every `intervalMs`, once per database: only while the
 * replica holds the recovery's lease (`acquireLease`).
 *
 *     const r = new StaleStartRecovery({ store, commands, clock, logger, acquireLease })
 *     r.start()              // a pass now, then periodically
 *     ...; await r.close()   // before the store and the command channel close
 */
import type { Logger } from 'pino'
import { formatTime } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import type { ChargingStore, SessionRecord } from '../store/index.js'
import type { CommandChannel } from '../station-link/command-channel.js'
import { DEFAULT_COMMAND_TIMEOUT_MS, NO_ANSWER } from './service.js'

export interface StaleStartRecoveryDeps {
  store: { charging: ChargingStore }
  commands: Pick<CommandChannel, 'send'>
  clock: Clock
  logger: Logger
  /** Take (or renew) this database's lease of the recovery; resolves false while another replica holds it. */
  acquireLease: () => Promise<boolean>
  /** The charging service's command timeout, ms (default DEFAULT_COMMAND_TIMEOUT_MS): the bound is twice it. */
  commandTimeoutMs?: number
  /** Time between passes, ms (default: the command timeout). */
  intervalMs?: number
}

/** How long after it opened (ms) a session still `starting` is past any live run's wait: twice the command timeout. */
export function staleStartAfterMs(commandTimeoutMs: number): number {
  return 2 * commandTimeoutMs
}

export class StaleStartRecovery {
  readonly #d: StaleStartRecoveryDeps
  readonly #log: Logger
  readonly #timeoutMs: number
  readonly #intervalMs: number
  #cancel: (() => void) | null = null
  #pass: Promise<SessionRecord[]> = Promise.resolve([])
  #closed = false

  constructor(deps: StaleStartRecoveryDeps) {
    this.#d = deps
    this.#log = deps.logger.child({ component: 'stale-starts' })
    this.#timeoutMs = deps.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
    this.#intervalMs = deps.intervalMs ?? this.#timeoutMs
  }

  /**
   * One pass: when this replica holds the lease, fail every session still
   * `starting` opened at least `staleStartAfterMs` before now and send its
   * station `stop`. Resolves the sessions this pass failed (as they were
   * before, `starting`); none without the lease. Passes run one at a time.
   * Rejects when the store does.
   */
  recover(): Promise<SessionRecord[]> {
    const pass = this.#pass.catch(() => []).then(() => this.#recoverOnce())
    this.#pass = pass
    return pass
  }

  /** A pass now (in the background), then one every `intervalMs` until close(). */
  start(): void {
    if (this.#cancel || this.#closed) return
    const tick = (): void => {
      void this.recover()
        .catch((err: unknown) => this.#log.warn({ err }, 'recovery of stale charging starts failed; it runs again at the next pass'))
        .finally(() => {
          if (this.#cancel) this.#cancel = this.#d.clock.setTimer(tick, this.#intervalMs)
        })
    }
    this.#cancel = () => undefined
    tick()
  }

  /** Stop the passes and wait for the one running. */
  async close(): Promise<void> {
    this.#closed = true
    const cancel = this.#cancel
    this.#cancel = null
    cancel?.()
    await this.#pass.catch(() => undefined)
  }

  async #recoverOnce(): Promise<SessionRecord[]> {
    const { store, clock, commands } = this.#d
    if (!(await this.#d.acquireLease())) return []
    const now = clock.now()
    const bound = now - staleStartAfterMs(this.#timeoutMs)
    const stale = (await store.charging.activeSessions()).filter((s) => s.state === 'starting' && s.startedAtMs <= bound)
    const failed: SessionRecord[] = []
    for (const s of stale) {
      // Compare-and-set: a session that got its start reading since the read above is left charging.
      if (!(await store.charging.failStarting(s.sessionId, NO_ANSWER, now))) continue
      failed.push(s)
      // As a run does on no answer: the start may have reached the station; make sure it opens again.
      commands.send(s.stationId, { op: 'stop', sessionId: s.sessionId }, this.#timeoutMs).catch(() => undefined)
      this.#log.warn(
        { sessionId: s.sessionId, stationId: s.stationId, vehicleId: s.vehicleId, openedAt: formatTime(s.startedAtMs) },
        'charging start left unfinished (its hub process died before the station answered): session failed, no bill; station sent stop',
      )
    }
    return failed
  }
}
