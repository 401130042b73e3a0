/**
 * Charging sessions on the hub side (PROTOCOL.md `charge.*`, station topics):
 * start checks the station and the bookings around now, opens the session in
 * the database (one active session per station) and waits for the station to
 * close its relay; status reports live energy from telemetry; stop asks the
 * station to open its relay and bills the meter difference. A session the
 * station ends by itself (limit, fault, offline, shutdown) closes with a
 * receipt from its `session.stopped` event.
 */
import type { Logger } from 'pino'
import { VoltwayError, costMinor, formatTime, isErrorCode, newId, parseTime, type OpArgs, type OpResult, type Receipt, type StationEvent, type Telemetry } from '../../protocol/index.js'
import type { Clock } from '../clock.js'
import type { ReservationRules } from '../reservations/index.js'
import type { StationRegistry } from '../stations/index.js'
import type { ReceiptRecord, SessionRecord, Store } from '../store/index.js'
import type { CommandChannel } from '../station-link/command-channel.js'
import type { EventSink } from '../station-link/event-listener.js'

export interface ChargingServiceDeps {
  hubId: string
  store: Store
  stations: StationRegistry
  commands: CommandChannel
  clock: Clock
  rules: ReservationRules
  logger: Logger
  /** How long start/stop wait for the station's answer. */
  commandTimeoutMs?: number
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

  constructor(deps: ChargingServiceDeps) {
    this.#d = deps
    this.#log = deps.logger.child({ component: 'charging' })
    this.#timeoutMs = deps.commandTimeoutMs ?? 10_000
  }

  async start(vehicleId: string, args: OpArgs<'charge.start'>): Promise<OpResult<'charge.start'>> {
    const { store, stations, clock, rules } = this.#d
    const station = stations.get(args.stationId)
    if (!station) throw new VoltwayError('NOT_FOUND', `no station ${args.stationId} at hub ${this.#d.hubId}`)
    if (!station.live.online) throw new VoltwayError('STATION_OFFLINE', `station ${args.stationId} is offline`)
    if (station.live.status !== 'available') {
      throw new VoltwayError('STATION_BUSY', `station ${args.stationId} is ${station.live.status}`, { status: station.live.status })
    }
    const now = clock.now()
    if (args.reservationId !== undefined) {
      const r = await store.reservations.getReservation(args.reservationId)
      if (!r || r.vehicleId !== vehicleId || r.stationId !== args.stationId) {
        throw new VoltwayError('NOT_FOUND', `no reservation ${args.reservationId} of yours at station ${args.stationId}`)
      }
    }
    // PROTOCOL.md: a vehicle may start only if no other vehicle holds a reservation there within the window around now.
    const bookings = await store.reservations.findBookings({ stationIds: [args.stationId], atMs: now, windowMs: rules.windowMs, nowMs: now })
    const other = bookings.find((b) => b.vehicleId !== vehicleId)
    if (other) {
      throw new VoltwayError('RESERVED_BY_OTHER', `station ${args.stationId} is reserved by another vehicle around ${formatTime(other.atMs)}`, { at: formatTime(other.atMs) })
    }
    const sessionId = newId('s')
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

    let res
    try {
      res = await this.#d.commands.send(args.stationId, { op: 'start', sessionId, ...(args.maxWh !== undefined ? { maxWh: args.maxWh } : {}) }, this.#timeoutMs)
    } catch (err) {
      await store.charging.failSession(sessionId, 'no answer', clock.now())
      // The start may still reach the station later: make sure it opens again.
      this.#d.commands.send(args.stationId, { op: 'stop', sessionId }, this.#timeoutMs).catch(() => undefined)
      throw err
    }
    if (!res.ok) {
      await store.charging.failSession(sessionId, res.error?.code ?? 'refused', clock.now())
      const code = res.error && isErrorCode(res.error.code) ? res.error.code : 'STATION_BUSY'
      throw new VoltwayError(code, `station ${args.stationId} refused to start: ${res.error?.message ?? 'no reason given'}`, { stationCode: res.error?.code })
    }
    const meterStartWh = res.meterWh ?? 0
    const session = await store.charging.markCharging(sessionId, meterStartWh)
    const started = session?.meterStartWh ?? meterStartWh
    this.#live.set(sessionId, { meterWh: started, powerW: 0 })
    this.#log.info({ sessionId, stationId: args.stationId, vehicleId, meterStartWh: started }, 'session started')
    return { session: { sessionId, stationId: args.stationId, startedAt: formatTime(now), meterStartWh: started } }
  }

  async status(vehicleId: string, sessionId: string): Promise<OpResult<'charge.status'>> {
    const s = await this.#own(vehicleId, sessionId)
    const base = { sessionId, stationId: s.stationId, vehicleId, hubId: this.#d.hubId, startedAt: formatTime(s.startedAtMs), meterStartWh: s.meterStartWh ?? 0, currency: s.currency }
    if (s.state === 'stopped') {
      const r = await this.#d.store.charging.getReceipt(sessionId)
      return { session: { ...base, state: 'stopped', energyWh: r?.energyWh ?? 0, powerW: 0, costMinor: r?.costMinor ?? 0 } }
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
    if (s.state === 'failed') throw new VoltwayError('NOT_FOUND', `session ${sessionId} never started`)
    const res = await this.#d.commands.send(s.stationId, { op: 'stop', sessionId }, this.#timeoutMs)
    if (!res.ok) {
      // The station may have ended the session itself already: then its event has closed it.
      const again = await store.charging.getSession(sessionId)
      if (again?.state === 'stopped') return { receipt: await this.#receipt(sessionId) }
      throw new VoltwayError('STATION_BUSY', `station ${s.stationId} refused to stop: ${res.error?.message ?? 'no reason given'}`, { stationCode: res.error?.code })
    }
    if (res.meterWh === undefined) throw new VoltwayError('METER_FAULT', `station ${s.stationId} stopped without a meter reading; the receipt follows from its event`)
    await this.#close(s, res.meterWh, clock.now(), 'requested')
    return { receipt: await this.#receipt(sessionId) }
  }

  /** The vehicle's receipts at this hub, newest first. */
  async receipts(vehicleId: string, limit: number): Promise<Receipt[]> {
    return (await this.#d.store.charging.listReceipts(vehicleId, limit)).map((r) => this.#wire(r))
  }

  // EventSink

  async applyEvent(stationId: string, ev: StationEvent): Promise<void> {
    const { store } = this.#d
    if (ev.type === 'fault') {
      this.#log.warn({ stationId, code: ev.code, sessionId: ev.sessionId }, 'station fault')
      return
    }
    const s = await store.charging.getSession(ev.sessionId)
    if (!s || s.stationId !== stationId) {
      this.#log.warn({ stationId, sessionId: ev.sessionId, type: ev.type }, 'event for a session this hub does not know')
      return
    }
    if (ev.type === 'session.started') {
      await store.charging.markCharging(ev.sessionId, ev.meterStartWh ?? ev.meterWh)
      return
    }
    if (s.state === 'stopped' || s.state === 'failed') return
    const start = s.meterStartWh ?? ev.meterStartWh
    if (start !== undefined && ev.meterWh - start !== ev.energyWh) {
      this.#log.warn({ sessionId: s.sessionId, reported: ev.energyWh, metered: ev.meterWh - start }, 'station-reported energy differs from the meter difference; billing the meter difference')
    }
    try {
      await this.#close(s, ev.meterWh, parseTime(ev.ts), ev.reason, ev.meterStartWh)
    } catch (err) {
      // A meter fault is settled (logged, session failed, no bill): the event is still stored and acknowledged.
      if (!(err instanceof VoltwayError && err.code === 'METER_FAULT')) throw err
    }
  }

  async recordEvent(stationId: string, ev: StationEvent, raw: string): Promise<number> {
    const out = await this.#d.store.charging.recordEvent(stationId, ev.seq, ev.type, raw, this.#d.clock.now())
    return out.ackSeq
  }

  onTelemetry(stationId: string, t: Telemetry): void {
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

  async #close(s: SessionRecord, meterStopWh: number, endedAtMs: number, reason: string, meterStartWh?: number): Promise<void> {
    const out = await this.#d.store.charging.closeSession({ sessionId: s.sessionId, meterStopWh, endedAtMs, reason, ...(meterStartWh !== undefined ? { meterStartWh } : {}) })
    this.#live.delete(s.sessionId)
    if (out.status === 'fault') {
      // DESIGN.md, Billing: a missing or backwards reading is a coded fault, never a bill.
      await this.#d.store.charging.failSession(s.sessionId, out.code, endedAtMs)
      this.#log.error({ sessionId: s.sessionId, code: out.code, meterStopWh }, 'session closed without a bill: meter fault')
      throw new VoltwayError('METER_FAULT', `session ${s.sessionId} cannot be billed: ${out.code}`, { reason: out.code })
    }
    if (out.status === 'closed' && out.created) this.#log.info({ sessionId: s.sessionId, energyWh: out.receipt.energyWh, costMinor: out.receipt.costMinor, reason }, 'session closed')
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
