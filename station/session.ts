/**
 * The charging state machine of one station: available -> charging ->
 * available, plus disabled and faulted. It owns the relay and the meter
 * (given through the constructor) and writes every event through the outbox,
 * together with the session change the event stands for.
 *
 * Fail safe (docs/design.md): the relay opens on stop, limit, offline limit,
 * shutdown and any meter or relay fault; a fault leaves the station
 * `faulted` until `enable` finds the cause gone (the relay opens and the
 * meter gives a good reading) or a restart. Disabling a faulted station keeps
 * the fault: the next `enable` checks it all the same.
 * All operations run one at a time, in arrival order.
 */
import type { Logger } from 'pino'
import { isHwError } from '../hw/errors.js'
import type { Clock } from '../base/clock.js'
import type { EnergyMeter, MeterReading, Relay } from '../hw/types.js'
import { formatTime, type StationEvent, type StationStatus } from '../protocol/index.js'
import { FAULT_CODES, StationError, type FaultCode } from './errors.js'
import { MeterWatch, type MeterWatchOptions } from './meter-watch.js'
import type { EventInput, PersistedSession, StationOutbox } from './outbox.js'

export type StopReason = 'requested' | 'limit' | 'fault' | 'offline' | 'shutdown' | 'unplugged' | 'disabled'

export interface ChargingSessionOptions {
  relay: Relay
  meter: EnergyMeter
  outbox: StationOutbox
  clock: Clock
  log: Logger
  watch?: MeterWatchOptions
  /** A new event is in the outbox (publish it). */
  onEvent: (event: StationEvent) => void
  /** status or sessionId changed (publish the retained state). */
  onChange: () => void
}

export interface SessionView extends PersistedSession {
  /** Energy since the session started, from the last good reading. */
  energyWh: number
}

export class ChargingSession {
  readonly #o: ChargingSessionOptions
  readonly #log: Logger
  readonly #watch: MeterWatch
  #status: StationStatus = 'available'
  /** The fault not cleared yet (kept while disabled), or null. */
  #faultCode: FaultCode | null = null
  #session: PersistedSession | null = null
  #meterWh: number | null = null
  #powerW = 0
  #queue: Promise<unknown> = Promise.resolve()

  constructor(opts: ChargingSessionOptions) {
    this.#o = opts
    this.#log = opts.log
    this.#watch = new MeterWatch(opts.watch)
  }

  get status(): StationStatus {
    return this.#status
  }

  get sessionId(): string | null {
    return this.#session?.sessionId ?? null
  }

  get session(): SessionView | null {
    if (!this.#session) return null
    return { ...this.#session, energyWh: Math.max(0, (this.#meterWh ?? this.#session.meterStartWh) - this.#session.meterStartWh) }
  }

  /** The last good meter reading, Wh. */
  get meterWh(): number | null {
    return this.#meterWh
  }

  get powerW(): number {
    return this.#powerW
  }

  /**
   * Start-up, with the relay already open (hw opens it on creation): read the
   * meter, and if the last agent died with a session running, report that
   * session's end (reason `shutdown`): its relay was opened when the agent
   * died (firmware watchdog), so the energy is meter now minus meter start.
   */
  init(): Promise<void> {
    return this.#serial(async () => {
      this.#status = this.#o.outbox.disabled ? 'disabled' : 'available'
      const persisted = this.#o.outbox.currentSession()
      this.#session = persisted
      const reading = await this.#readChecked(false)
      if (persisted && this.#session) {
        if (reading) {
          this.#log.warn({ sessionId: persisted.sessionId }, 'a session was running when the agent stopped; reporting its end')
          this.#finishWith('shutdown', reading.energyWh)
        }
        // else #readChecked already ended it as a fault.
      }
    })
  }

  /** `idTag`: the card that started the session at the charger (its session.started event carries it). */
  start(sessionId: string, maxWh: number | undefined, idTag?: string): Promise<{ meterWh: number }> {
    return this.#serial(async () => {
      const current = this.#session
      if (current?.sessionId === sessionId) return { meterWh: current.meterStartWh }
      if (current) throw new StationError('STATION_BUSY', `session ${current.sessionId} is running`)
      const ended = this.#o.outbox.endedSession(sessionId)
      if (ended) throw new StationError('SESSION_ENDED', `session ${sessionId} already ended (${ended.reason})`)
      if (this.#status === 'disabled') throw new StationError('STATION_DISABLED', 'the station is disabled')
      if (this.#status === 'faulted') throw new StationError('STATION_FAULTED', 'the station is faulted; enable it after the fault is fixed')
      const reading = await this.#readChecked(false)
      if (!reading) throw new StationError('METER_FAULT', 'the meter cannot be read; the station is now faulted')
      const now = this.#o.clock.now()
      const session: PersistedSession = { sessionId, meterStartWh: reading.energyWh, maxWh: maxWh ?? null, startedAt: now }
      // Persist before closing the relay: an agent that dies right after still knows about the session.
      this.#session = session
      this.#status = 'charging'
      this.#emit(
        { type: 'session.started', sessionId, meterWh: reading.energyWh, meterStartWh: reading.energyWh, ts: formatTime(now), ...(idTag !== undefined ? { idTag } : {}) },
        { session },
      )
      this.#o.onChange()
      try {
        await this.#o.relay.close()
      } catch (err) {
        await this.#fault(FAULT_CODES.RELAY_FAULT, `closing the relay failed: ${errText(err)}`)
        throw new StationError('RELAY_FAULT', 'closing the relay failed; the station is now faulted')
      }
      this.#watch.restart(this.#o.clock.now())
      this.#log.info({ sessionId, meterStartWh: reading.energyWh, maxWh: maxWh ?? null }, 'session started')
      return { meterWh: reading.energyWh }
    })
  }

  /**
   * Stop a session: the running one (no id, or its id), or one that already
   * ended (idempotent: answers its stop reading). Another id -> NOT_FOUND.
   */
  stop(sessionId: string | undefined, reason: StopReason = 'requested'): Promise<{ meterWh: number | null }> {
    return this.#serial(async () => {
      const current = this.#session
      if (sessionId !== undefined && current?.sessionId !== sessionId) {
        const ended = this.#o.outbox.endedSession(sessionId)
        if (ended) return { meterWh: ended.meterStopWh }
        throw new StationError('NOT_FOUND', `no session ${sessionId} on this station`)
      }
      if (!current) {
        // Nothing to stop; the relay is open anyway (opening again is harmless and fail-safe).
        await this.#openRelay()
        return { meterWh: this.#meterWh }
      }
      await this.#finish(reason)
      return { meterWh: this.#meterWh }
    })
  }

  /**
   * Make the station available again. A station with a fault is checked
   * first: the relay must open and the meter give a good reading; otherwise
   * the command fails (RELAY_FAULT, METER_FAULT) and nothing changes (it stays
   * faulted, or disabled; the fault was reported when it happened).
   */
  enable(): Promise<{ meterWh: number | null }> {
    return this.#serial(async () => {
      if (this.#faultCode !== null) await this.#recheck()
      this.#o.outbox.disabled = false
      if (this.#status === 'disabled' || this.#status === 'faulted') {
        this.#status = 'available'
        this.#o.onChange()
      }
      return { meterWh: this.#meterWh }
    })
  }

  /** Is the fault's cause gone? Quietly (no new fault event): throws a StationError when it is not. */
  async #recheck(): Promise<void> {
    try {
      await this.#o.relay.open()
    } catch (err) {
      throw new StationError('RELAY_FAULT', `the relay still fails: ${errText(err)}`)
    }
    let reading: MeterReading
    try {
      reading = await this.#o.meter.read()
    } catch (err) {
      throw new StationError('METER_FAULT', `the meter still fails: ${errText(err)}`)
    }
    this.#watch.restart(this.#o.clock.now())
    const verdict = this.#watch.observe(reading, this.#o.clock.now(), false)
    if (!verdict.ok) throw new StationError('METER_FAULT', `the meter still fails: ${verdict.message}`)
    this.#meterWh = reading.energyWh
    this.#log.info({ cleared: this.#faultCode }, 'fault cleared by enable')
    this.#faultCode = null
  }

  /** Disabling while charging ends the session (reason `disabled`). */
  disable(): Promise<{ meterWh: number | null }> {
    return this.#serial(async () => {
      this.#o.outbox.disabled = true
      if (this.#session) await this.#finish('disabled')
      if (this.#status !== 'disabled') {
        this.#status = 'disabled'
        this.#o.onChange()
      }
      return { meterWh: this.#meterWh }
    })
  }

  /**
   * One control cycle: read and judge the meter, enforce maxWh and the
   * offline limit. `offlineMs` is how long the hub has been unreachable
   * (null while connected). Returns the reading for telemetry.
   */
  poll(offlineMs: number | null, offlineLimitMs: number): Promise<MeterReading | undefined> {
    return this.#serial(async () => {
      const charging = this.#session !== null
      if (!charging && this.#status === 'faulted') return undefined
      if (charging && offlineMs !== null && offlineMs >= offlineLimitMs) {
        this.#log.warn({ offlineMs, offlineLimitMs }, 'hub unreachable past the offline limit; stopping the session')
        await this.#finish('offline')
        return undefined
      }
      const reading = await this.#readChecked(this.#o.relay.isClosed)
      if (!reading) return undefined
      const s = this.#session
      if (s?.maxWh != null && reading.energyWh - s.meterStartWh >= s.maxWh) {
        this.#log.info({ sessionId: s.sessionId, maxWh: s.maxWh }, 'energy limit reached')
        await this.#finish('limit', reading)
        return undefined
      }
      return reading
    })
  }

  /** The board went away or something else outside the meter failed: fail safe. */
  fault(code: FaultCode, message: string): Promise<void> {
    return this.#serial(() => this.#fault(code, message))
  }

  /** Agent shutdown: open the relay and end a running session (reason `shutdown`). */
  shutdown(): Promise<void> {
    return this.#serial(async () => {
      if (this.#session) await this.#finish('shutdown')
      else await this.#openRelay()
    })
  }

  // ---- internals (run inside #serial) ----

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn)
    this.#queue = next.catch(() => {})
    return next
  }

  /** Open the relay, read the stop value and write session.stopped. */
  async #finish(reason: StopReason, reading?: MeterReading): Promise<void> {
    if (!(await this.#openRelay())) return // #fault ended the session
    const stop = reading ?? (await this.#readChecked(false))
    if (!stop) return // #fault ended the session with the last good reading
    this.#finishWith(reason, stop.energyWh)
  }

  #finishWith(reason: StopReason, stopWh: number): void {
    const s = this.#session
    if (!s) return
    const now = this.#o.clock.now()
    const energyWh = Math.max(0, stopWh - s.meterStartWh)
    this.#session = null
    if (this.#status === 'charging') this.#status = this.#o.outbox.disabled ? 'disabled' : 'available'
    this.#emit(
      { type: 'session.stopped', sessionId: s.sessionId, meterWh: stopWh, meterStartWh: s.meterStartWh, energyWh, reason, ts: formatTime(now) },
      { session: null, ended: { sessionId: s.sessionId, reason, energyWh, meterStopWh: stopWh, endedAt: now } },
    )
    this.#log.info({ sessionId: s.sessionId, reason, energyWh, meterStartWh: s.meterStartWh, meterStopWh: stopWh }, 'session stopped')
    this.#o.onChange()
  }

  /** Opens the relay; on failure retries once, then faults. Returns false when it faulted. */
  async #openRelay(): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.#o.relay.open()
        this.#watch.restart(this.#o.clock.now())
        return true
      } catch (err) {
        this.#log.error({ err: errText(err), attempt }, 'opening the relay failed')
      }
    }
    await this.#fault(FAULT_CODES.RELAY_FAULT, 'opening the relay failed; open the contactor by hand if in doubt', false)
    return false
  }

  /** Read and judge the meter; on a fault, fail safe and return undefined. */
  async #readChecked(flowExpected: boolean): Promise<MeterReading | undefined> {
    let reading: MeterReading
    try {
      reading = await this.#o.meter.read()
    } catch (err) {
      const detail = isHwError(err) ? `${err.code}: ${err.message}` : errText(err)
      await this.#fault(FAULT_CODES.METER_READ_FAILED, `meter read failed: ${detail}`)
      return undefined
    }
    const verdict = this.#watch.observe(reading, this.#o.clock.now(), flowExpected)
    if (!verdict.ok) {
      await this.#fault(verdict.code, verdict.message)
      return undefined
    }
    this.#meterWh = reading.energyWh
    this.#powerW = reading.powerW
    return reading
  }

  /** Fail safe: open the relay, report the fault, end a running session with the last good reading. */
  async #fault(code: FaultCode, message: string, openRelay = true): Promise<void> {
    this.#log.error({ code, message, sessionId: this.sessionId }, 'fault')
    if (openRelay) {
      try {
        await this.#o.relay.open()
      } catch (err) {
        this.#log.error({ err: errText(err) }, 'opening the relay after a fault failed')
      }
    }
    const s = this.#session
    const wasFaulted = this.#status === 'faulted'
    this.#status = 'faulted'
    this.#faultCode = code
    const meterWh = this.#meterWh ?? s?.meterStartWh ?? 0
    if (!wasFaulted || s) {
      this.#emit({ type: 'fault', code, message: message.slice(0, 500), meterWh, ts: formatTime(this.#o.clock.now()), ...(s ? { sessionId: s.sessionId } : {}) })
    }
    if (s) this.#finishWith('fault', meterWh)
    else if (!wasFaulted) this.#o.onChange()
  }

  #emit(input: EventInput, change: Parameters<StationOutbox['append']>[1] = {}): void {
    const event = this.#o.outbox.append(input, change)
    this.#o.onEvent(event)
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
