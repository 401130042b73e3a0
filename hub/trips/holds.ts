/**
 * The participant side of Try-Confirm/Cancel: holds that a coordinating hub
 * (a peer, or this hub for hop 0 of its own trips) places, confirms and
 * releases here. Serves the `/federation/v1/holds` and `/reservations`
 * routes and the coordinator's local hop alike.
 *
 * Hold ids are named by the coordinator; the ledger in `store.trips` records
 * which peer owns each id and keeps tombstones, so a release that arrives
 * before its hold's POST makes that POST fail (docs/design.md pitfalls).
 */
import type { Logger } from 'pino'
import { VoltwayError, formatTime, parseTime, type Hold, type HoldConfirmation, type HoldRequest, type Position } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import { checkLead, type ReservationRules } from '../reservations/rules.js'
import { VehicleLimit } from '../reservations/vehicle-limit.js'
import { StoreError, type BookingCandidate, type ConfirmHoldOutcome, type KeyedAnswer, type KeyedStatus, type HoldRecord, type PeerHoldRecord, type PlaceHoldInput, type VehicleLimitCheck, type ReservationRecord, type Store } from '../store/index.js'
import { holdIdFromKey, reservationIdForHold } from './ids.js'
import { decide } from './wait-die.js'

/** Where the stations are: satisfied by the hub's StationRegistry. */
export interface StationLocator {
  /** Stations within `rangeKm` of `position` (inclusive), nearest first, at most `limit`. */
  nearest(position: Position, rangeKm: number, limit?: number): ReadonlyArray<{ item: { stationId: string; position: Position }; distanceKm: number }>
}

export interface HoldRules extends ReservationRules {
  /** Longest TTL this hub grants; a request asking for more gets this. */
  holdTtlSeconds: number
}

export interface HoldServiceOptions {
  hubId: string
  store: Store
  clock: Clock
  logger: Logger
  stations: StationLocator
  rules: HoldRules
  /** Longest wait-die wait, whatever the request asks. Default 5000 ms. */
  maxWaitMs?: number
  /** Wait used when the request names none. Default 2000 ms. */
  defaultWaitMs?: number
  /** While waiting, look again at least this often (changes made by other processes). Default 25 ms. */
  pollMs?: number
}

/** How many of the nearest stations in range are offered to one booking. */
const MAX_CANDIDATES = 256

export class HoldService {
  readonly #o: HoldServiceOptions
  readonly #log: Logger
  readonly #waiters = new Set<() => void>()
  /** Hold ids a peer's placement is under way for in this process (docs/federation.md: another request for one is told 409). */
  readonly #placing = new Set<string>()

  constructor(opts: HoldServiceOptions) {
    this.#o = opts
    this.#log = opts.logger.child({ component: 'holds' })
  }

  /**
   * Place the hold of a peer's `POST /federation/v1/holds`: its id is the
   * request's `holdId`, or derived from the peer and its Idempotency-Key
   * (docs/federation.md "Hold ids"). Otherwise as place().
   */
  placeForPeer(peer: string, req: HoldRequest, idempotencyKey: string, keyed?: KeyedStatus): Promise<Hold> {
    return this.place(peer, req.holdId ?? holdIdFromKey(peer, idempotencyKey), req, keyed)
  }

  /**
   * Whether a peer's hold and confirm take a keyed call (placeForPeer's and confirm's `keyed`): the
   * store writes the call's key claim and answer with the hold (Store.peerHolds), so the guard may run
   * the call before claiming its key (hub/federation/idempotency.ts, runKeyed).
   */
  get keyedWrites(): boolean {
    return this.#o.store.peerHolds !== undefined
  }

  /**
   * Place hold `holdId` for `peer`: the nearest station within `rangeKm` of
   * `from` that is free at `at`, by wait-die when contended. Throws TOO_SOON,
   * TOO_FAR_AHEAD, RESERVATION_LIMIT (the peer's vehicle has
   * `rules.maxPerVehicle` live holds and reservations here), OUT_OF_RANGE (no station in range at all), NO_STATION_AVAILABLE (with
   * `details.waitDie`: `died` or `full`), HOLD_EXPIRED (released before it
   * was placed), IDEMPOTENCY_IN_PROGRESS (the same id is being placed) or
   * BAD_REQUEST (the id belongs to another peer). With `keyed` (only when
   * `keyedWrites`), the first booking write claims the call's key (KeyHeld
   * when another run holds it) and the one that books stores the answer.
   */
  async place(peer: string, holdId: string, req: HoldRequest, keyed?: KeyedStatus): Promise<Hold> {
    // Another request (another key: the guard answers a repeat of the key) for an id still being placed here
    // would wait beside it, or book once it wrote: it is told to ask again, whatever its body. Across
    // processes the store's DUPLICATE_ID does the same (#book).
    if (this.#placing.has(holdId)) throw placingError(holdId)
    this.#placing.add(holdId)
    try {
      return await this.#place(peer, holdId, req, keyed)
    } finally {
      this.#placing.delete(holdId)
    }
  }

  async #place(peer: string, holdId: string, req: HoldRequest, keyed?: KeyedStatus): Promise<Hold> {
    const { store, clock } = this.#o
    let checked: { atMs: number; candidates: BookingCandidate[] }
    try {
      checked = this.#check(req)
    } catch (err) {
      // An id placed (or released) already is answered as such, whatever the rules say of its time now.
      const known = await store.trips.getPeerHold(holdId)
      if (known) return this.#existing(peer, known)
      throw err
    }
    const { atMs, candidates } = checked
    // Where the hold is written with its ledger entry (Store.peerHolds), that write reads the entry first.
    const known = store.peerHolds ? null : await store.trips.getPeerHold(holdId)
    if (known) return this.#existing(peer, known)
    // Counted per (peer, vehicle) from the ledger, so the ledger entry is written before the next booking of this vehicle counts.
    const recorded = await VehicleLimit.for(store).book({ peerHubId: peer, vehicleId: req.vehicleId }, this.#o.rules, () => clock.now(), async (limit) => {
      const booked = await this.#book(holdId, req, atMs, candidates, limit, peer, keyed && { ...keyed, body: (h) => JSON.stringify(holdAnswer(h)) })
      if (!('hold' in booked)) return booked
      const placed = booked.hold
      // Booked with its ledger entry in one write (Store.peerHolds): a release that came first was seen there.
      if (store.peerHolds) return { placed, there: null }
      const there = await store.trips.recordPeerHold({
        holdId,
        peerHubId: peer,
        txId: req.txId,
        vehicleId: req.vehicleId,
        stationId: placed.stationId,
        position: placed.position,
        atMs: placed.atMs,
        expiresAtMs: placed.expiresAtMs,
        nowMs: clock.now(),
      })
      return { placed, there }
    })
    if ('answer' in recorded) return recorded.answer
    if ('entry' in recorded) return this.#existing(peer, recorded.entry)
    const { placed, there } = recorded
    if (there) {
      // A release (tombstone) overtook this placement: the release wins.
      await store.reservations.releaseHold(holdId)
      this.changed()
      return this.#existing(peer, there)
    }
    this.#log.debug({ peer, holdId, stationId: placed.stationId, txId: req.txId }, 'hold placed')
    return holdAnswer(placed)
  }

  /**
   * This hub's own holds (hop 0 of the trips it coordinates): the same
   * booking and wait-die, without the peer ledger. No network lies between
   * the coordinator and this store, so no late Try and no Confirm/Cancel race
   * can happen, and recovery runs before anything else.
   */
  async placeOwn(holdId: string, req: HoldRequest): Promise<Hold> {
    const { atMs, candidates } = this.#check(req)
    const booked = await VehicleLimit.for(this.#o.store).book({ vehicleId: req.vehicleId }, this.#o.rules, () => this.#o.clock.now(), (limit) =>
      this.#book(holdId, req, atMs, candidates, limit, null),
    )
    if ('answer' in booked) return booked.answer
    if ('entry' in booked) throw releasedError(holdId)
    this.#log.debug({ holdId, stationId: booked.hold.stationId, txId: req.txId }, 'own hold placed')
    return holdAnswer(booked.hold)
  }

  /**
   * placeOwn's first booking of `holdId`, as the input of a store write that books it with more
   * (Store.tripWrites: hop 0 with its trip, so both take one commit), the vehicle's limit counted in
   * that write. Null, for placeOwn to book and say why, when the rules refuse the request now or the
   * store counts the limit outside its bookings. A booking the write made is answered by ownHoldPlaced;
   * one it could not make (blocked, at the limit) is left to placeOwn.
   */
  ownHoldInput(holdId: string, req: HoldRequest): PlaceHoldInput | null {
    if (!this.#o.store.reservations.limitsInBooking) return null
    let checked: { atMs: number; candidates: BookingCandidate[] }
    try {
      checked = this.#check(req)
    } catch {
      return null
    }
    const now = this.#o.clock.now()
    return this.#holdInput(holdId, req, checked.atMs, checked.candidates, VehicleLimit.inBooking(this.#o.rules, now), now)
  }

  /** The answer of an own hold a store write booked from ownHoldInput. */
  ownHoldPlaced(hold: HoldRecord): Hold {
    this.#log.debug({ holdId: hold.holdId, stationId: hold.stationId, txId: hold.txId }, 'own hold placed with its trip')
    return holdAnswer(hold)
  }

  /** The booking of hold `holdId` for `req` at `nowMs`: its TTL the shorter of the request's and this hub's. */
  #holdInput(holdId: string, req: HoldRequest, atMs: number, candidates: BookingCandidate[], limit: VehicleLimitCheck | undefined, nowMs: number): PlaceHoldInput {
    const ttlMs = Math.min(req.ttlSeconds, this.#o.rules.holdTtlSeconds) * 1000
    return {
      holdId,
      vehicleId: req.vehicleId,
      atMs,
      candidates,
      windowMs: this.#o.rules.windowMs,
      nowMs,
      expiresAtMs: nowMs + ttlMs,
      txId: req.txId,
      txStartedAtMs: parseTime(req.txStartedAt),
      ...(limit ? { limit } : {}),
    }
  }

  async confirmOwn(holdId: string): Promise<HoldConfirmation> {
    const { store, clock } = this.#o
    return this.ownConfirmed(holdId, await store.reservations.confirmHold({ holdId, reservationId: reservationIdForHold(holdId), nowMs: clock.now() }))
  }

  /**
   * The rest of confirmOwn after the store's confirmHold of own hold `holdId` answered `out` (made by
   * confirmOwn, or by a trip write that confirmed the hold with its trip: Store.tripWrites): the
   * reservation, the expired hold's slot booked again if still free, or HOLD_EXPIRED.
   */
  async ownConfirmed(holdId: string, out: ConfirmHoldOutcome): Promise<HoldConfirmation> {
    const { store } = this.#o
    const reservationId = reservationIdForHold(holdId)
    let reservation: ReservationRecord | null
    if (out.status === 'confirmed') reservation = out.reservation
    else if (out.status === 'expired') reservation = await this.#rebook(out.hold, reservationId, null)
    else reservation = await store.reservations.getReservation(reservationId)
    if (!reservation) throw new VoltwayError('HOLD_EXPIRED', `hold ${holdId} is gone`, { holdId })
    this.changed()
    return confirmation(holdId, reservation)
  }

  async releaseOwn(holdId: string): Promise<void> {
    if (await this.#o.store.reservations.releaseHold(holdId)) this.changed()
  }

  async cancelOwnReservation(reservationId: string): Promise<void> {
    const { store } = this.#o
    const r = await store.reservations.getReservation(reservationId)
    if (!r) return
    await store.reservations.cancelReservation(reservationId, r.vehicleId)
    this.changed()
  }

  /** The rules every hold request must meet before anything is written. */
  #check(req: HoldRequest): { atMs: number; candidates: BookingCandidate[] } {
    const { clock, rules } = this.#o
    const nowMs = clock.now()
    const atMs = parseTime(req.at)
    checkLead(atMs, nowMs, rules)
    const candidates: BookingCandidate[] = this.#o.stations
      .nearest(req.from, req.rangeKm, MAX_CANDIDATES)
      .map((h) => ({ stationId: h.item.stationId, position: h.item.position }))
    if (candidates.length === 0) {
      throw new VoltwayError('OUT_OF_RANGE', `no station of hub ${this.#o.hubId} within ${req.rangeKm} km`, { rangeKm: req.rangeKm, hubId: this.#o.hubId })
    }
    return { atMs, candidates }
  }

  /**
   * Book the nearest free candidate, waiting (wait-die) while only younger
   * transactions' holds are in the way. For a hold of `peer` (null: this
   * hub's own), the peer ledger entry of the id is read while waiting (a
   * release ends the wait), and where the store can (Store.peerHolds) the
   * hold is booked with its ledger entry in one write.
   */
  async #book(
    holdId: string,
    req: HoldRequest,
    atMs: number,
    candidates: BookingCandidate[],
    limit: VehicleLimitCheck | undefined,
    peer: string | null,
    keyed?: KeyedAnswer<HoldRecord>,
  ): Promise<{ hold: HoldRecord } | { entry: PeerHoldRecord } | { answer: Hold }> {
    const { store, clock, rules } = this.#o
    const ledger = peer === null ? null : (): Promise<PeerHoldRecord | null> => store.trips.getPeerHold(holdId)
    const me = { txId: req.txId, txStartedAtMs: parseTime(req.txStartedAt) }
    const waitMs = Math.min(req.maxWaitMs ?? this.#o.defaultWaitMs ?? 2000, this.#o.maxWaitMs ?? 5000)
    const deadline = clock.monotonic() + waitMs
    for (;;) {
      const now = clock.now()
      let outcome
      try {
        const input = this.#holdInput(holdId, req, atMs, candidates, limit, now)
        outcome = peer !== null && store.peerHolds ? await store.peerHolds.placePeerHold(input, peer, keyed) : await store.reservations.placeHold(input)
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'DUPLICATE_ID')) throw err
        // The same id placed by a request still running (another key), or by another peer.
        if (ledger) {
          const entry = await ledger()
          if (entry) return { entry }
          throw placingError(holdId)
        }
        const hold = await store.reservations.getHold(holdId)
        if (hold) return { answer: holdAnswer(hold) }
        throw err
      }
      if (outcome.ok) return { hold: outcome.record }
      if ('known' in outcome) return { entry: outcome.known }
      VehicleLimit.refuseOverLimit(outcome, rules)
      const decision = decide(me, candidates, outcome.conflicts)
      const left = deadline - clock.monotonic()
      if (decision !== 'wait' || left <= 0) {
        throw new VoltwayError(
          'NO_STATION_AVAILABLE',
          decision === 'full'
            ? `all ${candidates.length} stations within ${req.rangeKm} km are booked at that time`
            : `all ${candidates.length} stations within ${req.rangeKm} km are held by other trips`,
          { rangeKm: req.rangeKm, stationsInRange: candidates.length, waitDie: decision === 'wait' ? 'timeout' : decision },
        )
      }
      await this.#waitForChange(Math.min(left, this.#o.pollMs ?? 25))
      if (ledger) {
        const entry = await ledger()
        if (entry) return { entry }
      }
    }
  }

  /**
   * Confirm a hold of `peer` into a reservation (id from the hold id).
   * Idempotent. A hold past its TTL is confirmed only if its slot is still
   * free (re-booked atomically); otherwise HOLD_EXPIRED. Unknown or another
   * peer's: NOT_FOUND; released: HOLD_EXPIRED. `keyed` as for place().
   */
  async confirm(peer: string, holdId: string, keyed?: KeyedStatus): Promise<HoldConfirmation> {
    const { store, clock } = this.#o
    const reservationId = reservationIdForHold(holdId)
    const input = { holdId, reservationId, nowMs: clock.now() }
    let entry: PeerHoldRecord
    let out: ConfirmHoldOutcome
    if (store.peerHolds) {
      // Confirmed with its ledger entry in one write, which reads the entry first; a release that came first confirms nothing there.
      const both = await store.peerHolds.confirmPeerHold(input, peer, keyed && { ...keyed, body: (r) => JSON.stringify(confirmation(holdId, r)) })
      if (both.status === 'unknown') throw holdNotFound(holdId)
      if (both.status === 'released') throw releasedError(holdId)
      if (both.status === 'confirmed') {
        this.changed()
        return confirmation(holdId, both.reservation)
      }
      entry = both.entry
      out = both
    } else {
      const known = await store.trips.getPeerHold(holdId)
      if (!known || known.peerHubId !== peer) throw holdNotFound(holdId)
      if (known.state === 'released') throw releasedError(holdId)
      entry = known
      out = await store.reservations.confirmHold(input)
    }
    // Not confirmed (expired, or swept): its slot again if still free, then the ledger.
    let reservation: ReservationRecord
    if (out.status === 'confirmed') reservation = out.reservation
    else reservation = await this.#rebook(entry, reservationId, peer)
    const recorded = await store.trips.peerHoldConfirmed({ holdId, reservationId: reservation.reservationId, nowMs: clock.now() })
    if (!recorded) {
      // A release overtook this confirm (the coordinator gave up on it): the release wins.
      await store.reservations.cancelReservation(reservation.reservationId, reservation.vehicleId)
      this.changed()
      throw releasedError(holdId)
    }
    this.changed()
    return confirmation(holdId, reservation)
  }

  /** Release a hold of `peer` (tombstone when unknown). A confirmed hold is left alone: cancel its reservation instead. */
  async release(peer: string, holdId: string): Promise<void> {
    const { store, clock } = this.#o
    const before = await store.trips.releasePeerHold({ holdId, peerHubId: peer, nowMs: clock.now() })
    if (before === 'foreign' || before === null) return
    if (before.state === 'placed') {
      await store.reservations.releaseHold(holdId)
      this.changed()
    }
  }

  /** Cancel a reservation made from a hold of `peer`. Gone already: fine. Another's (or not from a hold): NOT_FOUND. */
  async cancelReservation(peer: string, reservationId: string): Promise<void> {
    const { store, clock } = this.#o
    const r = await store.reservations.getReservation(reservationId)
    if (!r) return
    const entry = r.holdId === null ? null : await store.trips.getPeerHold(r.holdId)
    if (!entry || entry.peerHubId !== peer) throw new VoltwayError('NOT_FOUND', `no reservation ${reservationId} of your trips`, { reservationId })
    await store.trips.peerHoldCancelled({ holdId: entry.holdId, nowMs: clock.now() })
    await store.reservations.cancelReservation(reservationId, r.vehicleId)
    this.changed()
  }

  /** Delete expired holds (housekeeping; an expired hold blocks nothing anyway). */
  async sweep(): Promise<number> {
    const n = await this.#o.store.reservations.deleteExpiredHolds(this.#o.clock.now())
    if (n > 0) this.changed()
    return n
  }

  /** Hold requests waiting (wait-die) right now. */
  get waiting(): number {
    return this.#waiters.size
  }

  /** Wake every waiting hold request (something it may wait for changed). */
  changed(): void {
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const w of waiters) w()
  }

  #waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        cancel()
        this.#waiters.delete(done)
        resolve()
      }
      const cancel = this.#o.clock.setTimer(done, ms)
      this.#waiters.add(done)
    })
  }

  /** Answer a POST for an id the ledger knows: the same hold again (idempotent by id), or why not. */
  async #existing(peer: string, entry: PeerHoldRecord): Promise<Hold> {
    if (entry.peerHubId !== peer) throw new VoltwayError('BAD_REQUEST', `hold id ${entry.holdId} is in use; name the hold with another holdId`, { holdId: entry.holdId })
    if (entry.state === 'released') throw releasedError(entry.holdId)
    const hold = await this.#o.store.reservations.getHold(entry.holdId)
    if (hold) return holdAnswer(hold)
    if (entry.stationId === null || entry.position === null || entry.atMs === null || entry.expiresAtMs === null) {
      throw holdNotFound(entry.holdId)
    }
    return {
      holdId: entry.holdId,
      stationId: entry.stationId,
      position: entry.position,
      at: formatTime(entry.atMs),
      expiresAt: formatTime(entry.expiresAtMs),
    }
  }

  /**
   * Book the expired (or swept) hold's slot again if it is still free and its vehicle (of `peer`, null:
   * of this hub) is under its limit: the expired hold no longer counts, so the slot would be a booking
   * more (RESERVATION_LIMIT, by a count before the booking: VehicleLimit.refuseAtLimit).
   */
  async #rebook(entry: BookedSlot, reservationId: string, peer: string | null): Promise<ReservationRecord> {
    const { store, clock, rules } = this.#o
    const existing = await store.reservations.getReservation(reservationId)
    if (existing) return existing
    if (entry.stationId === null || entry.position === null || entry.atMs === null || entry.vehicleId === null) {
      throw holdNotFound(entry.holdId)
    }
    await VehicleLimit.for(store).refuseAtLimit(peer === null ? { vehicleId: entry.vehicleId } : { vehicleId: entry.vehicleId, peerHubId: peer }, rules, clock.now())
    try {
      const out = await store.reservations.createReservation({
        reservationId,
        holdId: entry.holdId,
        vehicleId: entry.vehicleId,
        atMs: entry.atMs,
        candidates: [{ stationId: entry.stationId, position: entry.position }],
        windowMs: rules.windowMs,
        nowMs: clock.now(),
      })
      if (out.ok) return out.record
    } catch (err) {
      const again = await store.reservations.getReservation(reservationId)
      if (again) return again
      throw err
    }
    throw new VoltwayError('HOLD_EXPIRED', `hold ${entry.holdId} expired and its station was booked since`, {
      holdId: entry.holdId,
      stationId: entry.stationId,
    })
  }
}

/** What a confirm needs to book an expired hold's slot again (a hold, or the ledger's copy of it). */
interface BookedSlot {
  holdId: string
  stationId: string | null
  position: Position | null
  atMs: number | null
  vehicleId: string | null
}

function confirmation(holdId: string, r: ReservationRecord): HoldConfirmation {
  return { reservationId: r.reservationId, holdId, stationId: r.stationId, position: r.position, at: formatTime(r.atMs) }
}

function holdAnswer(h: HoldRecord): Hold {
  return { holdId: h.holdId, stationId: h.stationId, position: h.position, at: formatTime(h.atMs), expiresAt: formatTime(h.expiresAtMs) }
}

function holdNotFound(holdId: string): VoltwayError {
  return new VoltwayError('NOT_FOUND', `no hold ${holdId}`, { holdId })
}

function releasedError(holdId: string): VoltwayError {
  return new VoltwayError('HOLD_EXPIRED', `hold ${holdId} was released`, { holdId, released: true })
}

/** 409 IDEMPOTENCY_IN_PROGRESS: another request is placing this hold id (docs/federation.md, POST /holds). */
function placingError(holdId: string): VoltwayError {
  return new VoltwayError('IDEMPOTENCY_IN_PROGRESS', `hold ${holdId} is being placed by another request: send this one again once that one is answered`, { holdId })
}
