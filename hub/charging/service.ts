/**
 * Charging sessions on the hub side (docs/protocol.md `charge.*`, station topics):
 * start checks the station and the bookings around now, opens the session in
 * the database (one active session per station) and waits for the station to
 * close its relay; status reports live energy from telemetry; stop asks the
 * station to open its relay and bills the meter difference. A session the
 * station ends by itself (limit, fault, offline, shutdown) closes with a
 * receipt from its `session.stopped` event.
 *
 * Readings are never defaulted: the start reading is the first one the
 * station reports for the session (its `start` answer's `meterWh`, else its
 * `session.started` event); a station that reports none within the command
 * timeout is stopped and the start fails with METER_FAULT, nobody billed.
 * Times are the hub's clock (when the hub opened, heard or closed a session);
 * the station's `ts` is stored as reported and its skew measured, never used.
 */
import type { Logger } from 'pino'
import { VoltwayError, costMinor, formatTime, isErrorCode, newId, type OpArgs, type OpResult, type Receipt, type StationAck, type StationEvent, type Telemetry } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import type { ReservationRules } from '../reservations/index.js'
import type { StationRegistry } from '../stations/index.js'
import { otherArgsRefused, refuseEarlierUse, type ReceiptRecord, type SessionRecord, type Store } from '../store/index.js'
import { StationClockWatch } from '../station-link/clock-skew.js'
import type { CommandChannel } from '../station-link/command-channel.js'
import type { EventSink } from '../station-link/event-listener.js'
import type { CardDirectory } from './card-auth.js'
import { bookingOwnedBy, ownerKey, type SessionOwner } from './owner.js'

/** How long start/stop wait for the station by default, ms (vehicle-sim's charge timeouts are set past this). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000

export interface ChargingServiceDeps {
  hubId: string
  store: Store
  stations: StationRegistry
  commands: CommandChannel
  clock: Clock
  rules: ReservationRules
  logger: Logger
  /** How long start/stop wait for the station's answer (and start for its first meter reading). */
  commandTimeoutMs?: number
  /** Which vehicle a card charges on, for sessions started by a card at the charger. */
  cards?: CardDirectory
  /** Each station clock measurement, seconds (station ts - hub clock at receipt); e.g. HubMetrics.onStationClockSkew. */
  onClockSkew?: (stationId: string, skewSeconds: number) => void
}

export interface StartOptions {
  /** The session's id (default: a new one); see ChargingService.startFor. */
  sessionId?: string
}

/**
 * The stop reason of a session whose station never answered its start (the start answered TIMEOUT or
 * STATION_OFFLINE), also of one whose run died before its station answered (./stale-start.ts).
 */
export const NO_ANSWER = 'no answer'

/** The coded error a start of session `s` answered when it failed before its station reported a start reading (as in ChargingService.#start). */
function failedStart(s: SessionRecord): VoltwayError {
  const message = `this request's start of session ${s.sessionId} at station ${s.stationId} failed (${s.stopReason ?? 'refused'}) and nobody is billed; send a new request to start again`
  if (s.stopReason === 'METER_MISSING_START') return new VoltwayError('METER_FAULT', message, { reason: s.stopReason, sessionId: s.sessionId })
  if (s.stopReason === NO_ANSWER) return new VoltwayError('TIMEOUT', message, { stationId: s.stationId, op: 'start', sessionId: s.sessionId })
  const code = s.stopReason !== null && isErrorCode(s.stopReason) ? s.stopReason : 'STATION_BUSY'
  return new VoltwayError(code, message, { stationCode: s.stopReason, sessionId: s.sessionId })
}

interface Live {
  meterWh: number
  powerW: number
}

export class ChargingService implements EventSink {
  readonly #d: ChargingServiceDeps
  readonly #log: Logger
  readonly #live = new Map<string, Live>()
  readonly #timeoutMs: number
  readonly #clocks: StationClockWatch
  /** start() calls waiting for a session's first meter reading, by session id (two when a repeat waits for its first run). */
  readonly #eventWaiters = new Map<string, Set<() => void>>()

  constructor(deps: ChargingServiceDeps) {
    this.#d = deps
    this.#log = deps.logger.child({ component: 'charging' })
    this.#timeoutMs = deps.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
    this.#clocks = new StationClockWatch({ logger: deps.logger, ...(deps.onClockSkew ? { onSkew: deps.onClockSkew } : {}) })
  }

  /** `charge.start` for one of this hub's vehicles (`opts` as in startFor). */
  start(vehicleId: string, args: OpArgs<'charge.start'>, opts: StartOptions = {}): Promise<OpResult<'charge.start'>> {
    return this.startFor({ vehicleId, homeHubId: null }, args, opts)
  }

  /**
   * Start a session at this hub's station `args.stationId` for `owner` (a
   * peer's vehicle when roaming; its session is stored under ownerKey). The
   * station's rules are the same for both: online, available, and no
   * booking of another around now (a roaming vehicle's own bookings are the
   * trip legs its home hub placed here).
   *
   * `opts.sessionId` (default: a new id) names the session. A session of
   * `owner` with that id is not started again (a request run again after its
   * first run's answer was lost or its claim lapsed): it is answered, with no
   * state changed and no station commanded, as its first run answered it:
   * `{session}` as started (`meterStartWh` its start reading) whatever its
   * state now; a start that failed, its coded error again (METER_FAULT,
   * TIMEOUT, the station's refusal); one whose station has not reported its
   * start reading yet is waited for up to the command timeout, then
   * IDEMPOTENCY_IN_PROGRESS (ask again with the same id; a start whose run
   * died is failed by ./stale-start.ts, then TIMEOUT). Two runs at once
   * (two replicas): the store opens the id once and the other run answers
   * that session. An id of another owner's session, or of the owner's session
   * started with other args (another station, reservation or maxWh: the id sent
   * again for another request once its record was dropped, as after an answer
   * the request-id rules do not keep), or one opened more than 24 h ago
   * (REQUEST_ID_KEPT_MS: an earlier use of the id, its record swept):
   * IDEMPOTENCY_KEY_REUSED, revealing nothing of it, no state changed and no
   * station commanded.
   */
  async startFor(owner: SessionOwner, args: Omit<OpArgs<'charge.start'>, 'hubId'>, opts: StartOptions = {}): Promise<OpResult<'charge.start'>> {
    const { sessionId } = opts
    if (sessionId === undefined) return this.#command(await this.#open(owner, args, newId('s')), args)
    const { store } = this.#d
    const earlier = await store.charging.getSession(sessionId)
    if (earlier) return this.#startedBefore(owner, args, earlier)
    let opened: SessionRecord
    try {
      opened = await this.#open(owner, args, sessionId)
    } catch (err) {
      // Refused before this run opened anything. Another run of the same request (another replica) may have
      // opened the id since the read above: the store refused this open (DUPLICATE_ID), or the station was
      // busy with that session already. Then this request's answer is that session.
      const first = await store.charging.getSession(sessionId).catch(() => null)
      if (first) return this.#startedBefore(owner, args, first)
      throw err
    }
    return this.#command(opened, args)
  }

  /**
   * What a start of session `opened` answers when an earlier run of the same request opened it (see
   * startFor). Changes nothing. A session still without a start reading (that run still waits for its
   * station) is waited for as that run waits, up to the command timeout.
   */
  async #startedBefore(owner: SessionOwner, args: Omit<OpArgs<'charge.start'>, 'hubId'>, opened: SessionRecord): Promise<OpResult<'charge.start'>> {
    if (opened.vehicleId !== ownerKey(owner)) {
      throw new VoltwayError('IDEMPOTENCY_KEY_REUSED', `this request's id names a session at hub ${this.#d.hubId} that is not yours; send the request again with a new id`)
    }
    // The request-id rules compare args only while the id's record lasts (24 h): a session of an earlier use of the id, or of another start, is not this request's answer.
    refuseEarlierUse(opened.startedAtMs, this.#d.clock.now())
    if (opened.stationId !== args.stationId || opened.reservationId !== (args.reservationId ?? null) || opened.maxWh !== (args.maxWh ?? null)) {
      throw otherArgsRefused('charge.start')
    }
    const waiting = (x: SessionRecord): boolean => x.meterStartWh === null && (x.state === 'starting' || x.state === 'charging')
    const s = waiting(opened) ? ((await this.#settled(opened.sessionId, this.#timeoutMs, (x) => !waiting(x))) ?? opened) : opened
    if (s.meterStartWh !== null) {
      return { session: { sessionId: s.sessionId, stationId: s.stationId, startedAt: formatTime(s.startedAtMs), meterStartWh: s.meterStartWh } }
    }
    if (s.state !== 'failed') {
      throw new VoltwayError(
        'IDEMPOTENCY_IN_PROGRESS',
        `this request opened session ${s.sessionId} at station ${s.stationId}, which has not reported its start reading yet; ask again with the same id for its answer`,
        { sessionId: s.sessionId },
      )
    }
    throw failedStart(s)
  }

  /** The station's rules checked and the session opened, `starting`; VoltwayError (nothing written) when the station may not start for `owner` now. */
  async #open(owner: SessionOwner, args: Omit<OpArgs<'charge.start'>, 'hubId'>, sessionId: string): Promise<SessionRecord> {
    const { store, stations, clock, rules } = this.#d
    const vehicleId = ownerKey(owner)
    const station = stations.get(args.stationId)
    if (!station) throw new VoltwayError('NOT_FOUND', `no station ${args.stationId} at hub ${this.#d.hubId}`, { stationId: args.stationId })
    if (!station.live.online) throw new VoltwayError('STATION_OFFLINE', `station ${args.stationId} is offline`)
    if (station.live.status !== 'available') {
      throw new VoltwayError('STATION_BUSY', `station ${args.stationId} is ${station.live.status}`, { status: station.live.status })
    }
    const now = clock.now()
    if (args.reservationId !== undefined) {
      const r = await store.reservations.getReservation(args.reservationId)
      if (!r || r.stationId !== args.stationId || !(await bookingOwnedBy(store, { kind: 'reservation', id: r.reservationId, vehicleId: r.vehicleId }, owner))) {
        throw new VoltwayError('NOT_FOUND', `no reservation ${args.reservationId} of yours at station ${args.stationId}`, { reservationId: args.reservationId })
      }
    }
    // docs/protocol.md: a vehicle may start only if no other vehicle holds a reservation there within the window around now.
    const bookings = await store.reservations.findBookings({ stationIds: [args.stationId], atMs: now, windowMs: rules.windowMs, nowMs: now })
    let other: (typeof bookings)[number] | undefined
    for (const b of bookings) if (!other && !(await bookingOwnedBy(store, b, owner))) other = b
    if (other) {
      throw new VoltwayError('RESERVED_BY_OTHER', `station ${args.stationId} is reserved by another vehicle around ${formatTime(other.atMs)}`, { at: formatTime(other.atMs) })
    }
    const opened = await store.charging.openSession({
      sessionId,
      stationId: args.stationId,
      vehicleId,
      reservationId: args.reservationId ?? null,
      startedAtMs: now,
      maxWh: args.maxWh ?? null,
      priceMinorPerKwh: station.priceMinorPerKwh,
      currency: stations.currency,
    })
    if (!opened.ok) throw new VoltwayError('STATION_BUSY', `station ${args.stationId} has a session running`)
    return opened.session
  }

  /** Command the station to start the session just opened, and answer once it reported its start reading (else the session fails, nobody billed). */
  async #command(opened: SessionRecord, args: Omit<OpArgs<'charge.start'>, 'hubId'>): Promise<OpResult<'charge.start'>> {
    const { store, clock } = this.#d
    const { sessionId, vehicleId } = opened
    const deadline = performance.now() + this.#timeoutMs
    let res
    try {
      res = await this.#d.commands.send(args.stationId, { op: 'start', sessionId, ...(args.maxWh !== undefined ? { maxWh: args.maxWh } : {}) }, this.#timeoutMs)
    } catch (err) {
      await store.charging.failSession(sessionId, NO_ANSWER, clock.now())
      // The start may still reach the station later: make sure it opens again.
      this.#sendStop(args.stationId, sessionId)
      throw err
    }
    if (!res.ok) {
      await store.charging.failSession(sessionId, res.error?.code ?? 'refused', clock.now())
      const code = res.error && isErrorCode(res.error.code) ? res.error.code : 'STATION_BUSY'
      throw new VoltwayError(code, `station ${args.stationId} refused to start: ${res.error?.message ?? 'no reason given'}`, { stationCode: res.error?.code })
    }
    // docs/protocol.md allows `{id, ok}` without `meterWh`: then the reading comes from the session.started event.
    if (res.meterWh !== undefined) await store.charging.markCharging(sessionId, res.meterWh)
    const session = await this.#settled(sessionId, deadline - performance.now(), (x) => x.meterStartWh !== null || (x.state !== 'starting' && x.state !== 'charging'))
    if (session?.state === 'failed' && session.stopReason === NO_ANSWER) {
      // Failed while this run waited (./stale-start.ts took it for a dead run's): it stays failed, and the
      // station, which has started, is stopped; this run answers as the session's repeats do.
      this.#sendStop(args.stationId, sessionId)
      this.#log.warn({ sessionId, stationId: args.stationId, stopReason: session.stopReason }, 'station started a session that had failed meanwhile; stopped, no bill')
      throw failedStart(session)
    }
    if (session?.meterStartWh == null) {
      await store.charging.failSession(sessionId, 'METER_MISSING_START', clock.now())
      this.#sendStop(args.stationId, sessionId)
      this.#log.error({ sessionId, stationId: args.stationId }, 'station started without reporting a meter reading; stopped, no bill')
      throw new VoltwayError('METER_FAULT', `station ${args.stationId} started session ${sessionId} without reporting a meter reading; it was stopped and nobody is billed`, {
        reason: 'METER_MISSING_START',
        sessionId,
      })
    }
    const started = session.meterStartWh
    if (session.state === 'charging') this.#live.set(sessionId, { meterWh: started, powerW: 0 })
    this.#log.info({ sessionId, stationId: args.stationId, vehicleId, meterStartWh: started }, 'session started')
    return { session: { sessionId, stationId: args.stationId, startedAt: formatTime(session.startedAtMs), meterStartWh: started } }
  }

  async status(vehicleId: string, sessionId: string): Promise<OpResult<'charge.status'>> {
    const s = await this.#own(vehicleId, sessionId)
    if (s.meterStartWh === null) throw this.#unbilled(s)
    const base = { sessionId, stationId: s.stationId, vehicleId, hubId: this.#d.hubId, startedAt: formatTime(s.startedAtMs), meterStartWh: s.meterStartWh, currency: s.currency }
    if (s.state === 'stopped') {
      const r = await this.#receipt(sessionId)
      return { session: { ...base, state: 'stopped', energyWh: r.energyWh, powerW: 0, costMinor: r.costMinor } }
    }
    if (s.state === 'failed') return { session: { ...base, state: 'stopped', energyWh: 0, powerW: 0, costMinor: 0 } }
    const live = this.#live.get(sessionId)
    const energyWh = live && s.meterStartWh !== null ? Math.max(0, live.meterWh - s.meterStartWh) : 0
    return {
      session: { ...base, state: s.state, energyWh, powerW: live?.powerW ?? 0, costMinor: costMinor(energyWh, s.priceMinorPerKwh) },
    }
  }

  async stop(vehicleId: string, sessionId: string): Promise<OpResult<'charge.stop'>> {
    const s = await this.#own(vehicleId, sessionId)
    const { store, clock } = this.#d
    if (s.state === 'stopped') return { receipt: await this.#receipt(sessionId) }
    if (s.state === 'failed') throw this.#unbilled(s)
    const deadline = performance.now() + this.#timeoutMs
    const res = await this.#d.commands.send(s.stationId, { op: 'stop', sessionId }, this.#timeoutMs)
    if (!res.ok) {
      // The station may have ended the session itself already: then its event has closed it.
      const again = await store.charging.getSession(sessionId)
      if (again?.state === 'stopped') return { receipt: await this.#receipt(sessionId) }
      throw new VoltwayError('STATION_BUSY', `station ${s.stationId} refused to stop: ${res.error?.message ?? 'no reason given'}`, { stationCode: res.error?.code })
    }
    if (res.meterWh === undefined) {
      // docs/protocol.md allows `{id, ok}` without `meterWh`: the stop reading then comes with the session.stopped
      // event. A station that never sends it must not keep its charger busy: after the command timeout the session
      // ends unbilled (METER_FAULT), as a start without a reading does.
      const after = await this.#settled(sessionId, deadline - performance.now(), (x) => x.state !== 'starting' && x.state !== 'charging')
      if (after?.state === 'stopped') return { receipt: await this.#receipt(sessionId) }
      if (after && (after.state === 'starting' || after.state === 'charging')) {
        await store.charging.failSession(sessionId, 'METER_MISSING_STOP', clock.now())
        this.#live.delete(sessionId)
        this.#log.error({ sessionId, stationId: s.stationId }, 'station stopped without reporting a meter reading; session closed, no bill')
      }
      throw new VoltwayError('METER_FAULT', `station ${s.stationId} stopped session ${sessionId} without reporting a meter reading; nobody is billed`, { reason: 'METER_MISSING_STOP', sessionId })
    }
    await this.#close(s, res.meterWh, clock.now(), 'requested')
    return { receipt: await this.#receipt(sessionId) }
  }

  /** The vehicle's receipts at this hub, newest first. */
  async receipts(vehicleId: string, limit: number): Promise<Receipt[]> {
    return (await this.#d.store.charging.listReceipts(vehicleId, limit)).map((r) => this.#wire(r))
  }

  // EventSink

  async applyEvent(stationId: string, ev: StationEvent): Promise<void> {
    const { store, clock, stations } = this.#d
    const receivedAtMs = clock.now()
    if (stations.has(stationId)) this.#clocks.observe(stationId, ev.ts, receivedAtMs)
    if (ev.type === 'fault') {
      this.#log.warn({ stationId, code: ev.code, sessionId: ev.sessionId }, 'station fault')
      return
    }
    const s = (await store.charging.getSession(ev.sessionId)) ?? (await this.#openForCard(stationId, ev))
    if (!s || s.stationId !== stationId) {
      this.#log.warn({ stationId, sessionId: ev.sessionId, type: ev.type }, 'event for a session this hub does not know')
      return
    }
    if (ev.type === 'session.started') {
      // A session that has no start reading yet takes this one; one that has keeps it (the first report wins).
      // A session that failed (its start timed out, its run died, its meter could not bill) stays failed.
      const marked = await store.charging.markCharging(ev.sessionId, ev.meterStartWh ?? ev.meterWh, ev.ts)
      this.#wake(ev.sessionId)
      if (!marked) await this.#stopFailed(stationId, ev.sessionId)
      return
    }
    if (s.state === 'stopped' || s.state === 'failed') return
    const start = s.meterStartWh ?? ev.meterStartWh
    if (start !== undefined && ev.meterWh - start !== ev.energyWh) {
      this.#log.warn({ sessionId: s.sessionId, reported: ev.energyWh, metered: ev.meterWh - start }, 'station-reported energy differs from the meter difference; billing the meter difference')
    }
    try {
      // Ended when the hub heard it: the station's `ts` is kept as reported, never billed or sorted by.
      await this.#close(s, ev.meterWh, receivedAtMs, ev.reason, ev.meterStartWh, ev.ts)
    } catch (err) {
      // A meter fault is settled (logged, session failed, no bill): the event is still stored and acknowledged.
      if (!(err instanceof VoltwayError && err.code === 'METER_FAULT')) throw err
    } finally {
      this.#wake(ev.sessionId)
    }
  }

  /**
   * The station reports it started a session the hub holds `failed` (e.g. a start that reached it after the
   * hub gave up on its answer): nobody is billed for it, so the station must not keep charging. Sends `stop`
   * without waiting for the answer (the event is acknowledged either way; a repeat of the event sends it again).
   */
  async #stopFailed(stationId: string, sessionId: string): Promise<void> {
    const s = await this.#d.store.charging.getSession(sessionId)
    if (s?.state !== 'failed') return
    this.#log.warn({ sessionId, stationId, stopReason: s.stopReason }, 'station reports a session started that had failed at the hub; stopping it, no bill')
    this.#sendStop(stationId, sessionId)
  }

  /**
   * A card started this session at the charger, online or offline
   * (docs/protocol.md, "Cards at the charger"): open it for the card's
   * vehicle, started now on the hub's clock; the caller then marks it
   * charging with the event's start reading, and it bills as any session.
   * A card the hub no longer knows opens nothing (CARD_UNKNOWN, logged).
   */
  async #openForCard(stationId: string, ev: StationEvent): Promise<SessionRecord | null> {
    if (ev.type !== 'session.started' || ev.idTag === undefined) return null
    const station = this.#d.stations.get(stationId)
    const vehicleId = this.#d.cards?.vehicleOf(ev.idTag)
    if (!station || vehicleId === undefined) {
      this.#log.error({ stationId, sessionId: ev.sessionId, idTag: ev.idTag, code: 'CARD_UNKNOWN' }, 'a card this hub does not know started a session; nobody is billed')
      return null
    }
    const opened = await this.#d.store.charging.openSession({
      sessionId: ev.sessionId,
      stationId,
      vehicleId,
      reservationId: null,
      startedAtMs: this.#d.clock.now(),
      maxWh: null,
      priceMinorPerKwh: station.priceMinorPerKwh,
      currency: this.#d.stations.currency,
    })
    if (!opened.ok) {
      this.#log.error({ stationId, sessionId: ev.sessionId, vehicleId }, 'a card session cannot open: the station has another session open at the hub')
      return null
    }
    this.#log.info({ stationId, sessionId: ev.sessionId, vehicleId, idTag: ev.idTag }, 'session started by a card')
    return this.#d.store.charging.getSession(ev.sessionId)
  }

  /**
   * Store `ev` once (per station, epoch and seq) and say what to acknowledge. What is stored is the event as
   * read (StationEvent: the fields the hub knows, a few hundred bytes at most), not the bytes the station sent:
   * fields a reader ignores (docs/protocol.md) would let one event take 64 KiB of the database for its retention.
   */
  async recordEvent(stationId: string, ev: StationEvent): Promise<StationAck | null> {
    const epoch = ev.epoch ?? null
    const out = await this.#d.store.charging.recordEvent(stationId, epoch, ev.seq, ev.type, JSON.stringify(ev), this.#d.clock.now())
    if (out.resendFrom !== undefined) this.#log.warn({ stationId, epoch, seq: ev.seq, acked: out.ackSeq, missing: out.resendFrom }, 'station events missing before this one; asking the station for them')
    if (out.ackSeq === 0 && out.resendFrom === undefined) return null
    return { seq: out.ackSeq, ...(epoch !== null ? { epoch } : {}), ...(out.resendFrom !== undefined ? { resendFrom: out.resendFrom } : {}) }
  }

  onTelemetry(stationId: string, t: Telemetry): void {
    if (this.#d.stations.has(stationId)) this.#clocks.observe(stationId, t.ts, this.#d.clock.now())
    if (t.sessionId === null) return
    const live = this.#live.get(t.sessionId)
    if (live) {
      live.meterWh = t.meterWh
      live.powerW = t.powerW
      return
    }
    // After a hub restart: learn live values for sessions still running at this station.
    void this.#d.store.charging.getSession(t.sessionId).then(
      (s) => {
        if (s && s.stationId === stationId && s.state === 'charging') this.#live.set(t.sessionId as string, { meterWh: t.meterWh, powerW: t.powerW })
      },
      () => undefined,
    )
  }

  async #close(s: SessionRecord, meterStopWh: number, endedAtMs: number, reason: string, meterStartWh?: number, stationEndedAt?: string): Promise<void> {
    const out = await this.#d.store.charging.closeSession({
      sessionId: s.sessionId,
      meterStopWh,
      endedAtMs,
      reason,
      ...(meterStartWh !== undefined ? { meterStartWh } : {}),
      ...(stationEndedAt !== undefined ? { stationEndedAt } : {}),
    })
    this.#live.delete(s.sessionId)
    if (out.status === 'fault') {
      // docs/design.md, Billing: a missing or backwards reading is a coded fault, never a bill.
      await this.#d.store.charging.failSession(s.sessionId, out.code, endedAtMs)
      this.#log.error({ sessionId: s.sessionId, code: out.code, meterStopWh }, 'session closed without a bill: meter fault')
      throw new VoltwayError('METER_FAULT', `session ${s.sessionId} cannot be billed: ${out.code}`, { reason: out.code })
    }
    if (out.status === 'closed' && out.created) this.#log.info({ sessionId: s.sessionId, energyWh: out.receipt.energyWh, costMinor: out.receipt.costMinor, reason }, 'session closed')
  }

  /**
   * The session once `done` holds for it (or it is gone), or as it stands
   * after `waitMs`: a station may answer `start`/`stop` before the event that
   * carries its reading arrives; every event of the session wakes the wait.
   */
  async #settled(sessionId: string, waitMs: number, done: (s: SessionRecord) => boolean): Promise<SessionRecord | null> {
    const settled = (s: SessionRecord | null): boolean => !s || done(s)
    let wake = (): void => undefined
    const woken = new Promise<void>((resolve) => (wake = resolve))
    // Registered before reading the store, so an event applied in between is not missed.
    const waiters = this.#eventWaiters.get(sessionId) ?? new Set()
    this.#eventWaiters.set(sessionId, waiters.add(wake))
    const timer = setTimeout(wake, Math.max(0, waitMs))
    try {
      let s = await this.#d.store.charging.getSession(sessionId)
      if (!settled(s)) {
        await woken
        s = await this.#d.store.charging.getSession(sessionId)
      }
      return s
    } finally {
      clearTimeout(timer)
      waiters.delete(wake)
      if (waiters.size === 0) this.#eventWaiters.delete(sessionId)
    }
  }

  /** Send the station `stop` for `sessionId` without waiting for its answer (a station that misses it is stopped again on its next report of the session). */
  #sendStop(stationId: string, sessionId: string): void {
    this.#d.commands.send(stationId, { op: 'stop', sessionId }, this.#timeoutMs).catch(() => undefined)
  }

  #wake(sessionId: string): void {
    for (const wake of this.#eventWaiters.get(sessionId) ?? []) wake()
  }

  /** Why a session without a bill has none: a meter fault, or it never started. */
  #unbilled(s: SessionRecord): VoltwayError {
    if (s.state === 'failed' && s.stopReason?.startsWith('METER_')) {
      return new VoltwayError('METER_FAULT', `session ${s.sessionId} cannot be billed (${s.stopReason}); nobody was billed`, { reason: s.stopReason })
    }
    if (s.state === 'failed') return new VoltwayError('NOT_FOUND', `session ${s.sessionId} never started`)
    return new VoltwayError('NOT_FOUND', `session ${s.sessionId} has not started yet: its station has not reported a meter reading`)
  }

  async #own(vehicleId: string, sessionId: string): Promise<SessionRecord> {
    const s = await this.#d.store.charging.getSession(sessionId)
    if (!s || s.vehicleId !== vehicleId) throw new VoltwayError('NOT_FOUND', `no session ${sessionId} of yours at hub ${this.#d.hubId}`)
    return s
  }

  async #receipt(sessionId: string): Promise<Receipt> {
    const r = await this.#d.store.charging.getReceipt(sessionId)
    if (!r) throw new VoltwayError('METER_FAULT', `session ${sessionId} ended without a billable reading`)
    return this.#wire(r)
  }

  #wire(r: ReceiptRecord): Receipt {
    return {
      sessionId: r.sessionId,
      stationId: r.stationId,
      hubId: this.#d.hubId,
      vehicleId: r.vehicleId,
      startedAt: formatTime(r.startedAtMs),
      endedAt: formatTime(r.endedAtMs),
      energyWh: r.energyWh,
      priceMinorPerKwh: r.priceMinorPerKwh,
      costMinor: r.costMinor,
      currency: r.currency,
    }
  }
}
