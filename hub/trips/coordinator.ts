/**
 * `route.reserve`: an atomic trip across companies by Try-Confirm/Cancel
 * (docs/design.md "Key decisions"; docs/federation.md).
 *
 * 1. The trip and the hold id of every hop are written to the database
 *    before anything is sent (so after a crash every hold that may exist is
 *    known by name).
 * 2. Try: a hold per hop, in order: hop 0 here from the vehicle's position,
 *    hop i at its hub within `rangeKm` of the station held at hop i-1, each
 *    at its own time. Each hold request carries the trip's age (wait-die).
 * 3. Confirm: the trip is marked `confirming` (where the store can, with the
 *    hold at this hub confirmed in the same write), then every other hold is
 *    confirmed, in parallel. The try phase stops while there is time left to confirm
 *    before the earliest hold runs out (TTL minus clock skew minus a
 *    reserve). Reservation ids derive from the hold ids already written.
 * 4. On any failure the attempt is undone (`aborting` first): holds
 *    released, and after confirms were sent, their reservations cancelled,
 *    per hop in that order. What cannot be released now goes to the durable
 *    release queue in the same write that marks the trip `aborted`.
 *
 * Refused because an OLDER trip holds the stations (wait-die `died`), the
 * trip restarts with the same age, up to `maxAttempts`. `recover()` undoes
 * every trip a crash left unfinished.
 */
import type { Logger } from 'pino'
import { VoltwayError, formatTime, newId, parseTime, type Hold, type HoldConfirmation, type HoldRequest, type OpArgs, type Position, type Trip } from '../../protocol/index.js'
import { sleep, type Clock, type Random } from '../../base/clock.js'
import { forEachLimit } from '../../base/for-each-limit.js'
import type { CatalogRoute, RouteCatalog } from '../routes/catalog.js'
import { KeyHeld, otherArgsRefused, refuseEarlierUse, type AcquireLeaseInput, type KeyedCall, type ReleaseTask, type Store, type TripLegRecord, type TripRecord, type TripState } from '../store/index.js'
import { routeFailed, tripNotFound, tripTakenOver, type HopFailure } from './errors.js'
import { holdIdFor, reservationIdForHold, stepKey } from './ids.js'
import { leaseNames, type LeaseKeeper } from './lease-keeper.js'
import type { HoldService } from './holds.js'
import type { Participants } from './participants.js'
import { retryable, type Releaser } from './releaser.js'

export interface CoordinatorTuning {
  /** Assumed worst clock difference between two hubs. Default 1000 ms (at most a tenth of the hold TTL is used). */
  skewMarginMs: number
  /** Time kept for the confirm phase before the earliest hold expires. Default 1000 ms (at most a tenth of the hold TTL). */
  confirmReserveMs: number
  /** Longest wait-die wait a hold request may ask for. Default 5000 ms. */
  maxHoldWaitMs: number
  /** Timeout of a federation call, on top of the hold's wait. Default 2000 ms. */
  requestTimeoutMs: number
  /** Attempts of a trip refused by older trips (wait-die `died`). Default 3. */
  maxAttempts: number
  /** Base delay before a restart (times the attempt, jittered). Default 25 ms. */
  restartDelayMs: number
}

export const DEFAULT_TUNING: CoordinatorTuning = {
  skewMarginMs: 1000,
  confirmReserveMs: 1000,
  maxHoldWaitMs: 5000,
  requestTimeoutMs: 2000,
  maxAttempts: 3,
  restartDelayMs: 25,
}

/** Points where the coordinator is about to act; a test hook may throw there to simulate a crash. */
export type CoordinatorStep =
  | { step: 'hold'; tripId: string; attempt: number; hop: number }
  | { step: 'confirm'; tripId: string; attempt: number }

export interface CoordinatorOptions {
  hubId: string
  store: Store
  clock: Clock
  logger: Logger
  catalog: RouteCatalog
  participants: Participants
  releaser: Releaser
  /** This replica's leases: a trip is coordinated (or recovered) only under its lease, so never by two replicas. */
  leases: LeaseKeeper
  /** TTL asked for every hold (`rules.holdTtlSeconds`). */
  holdTtlSeconds: number
  tuning?: Partial<CoordinatorTuning>
  newTripId?: () => string
  /** Jitter of the pause between attempts (default Math.random). */
  random?: Random
  /**
   * This hub's holds (the participant of hop 0): with Store.tripWrites, hop 0's hold is booked in the
   * trip's first write (HoldService.ownHoldInput) and confirmed in the write that marks the trip
   * `confirming` (HoldService.ownConfirmed). Absent: every hold through `participants`.
   */
  ownHolds?: Pick<HoldService, 'ownHoldInput' | 'ownHoldPlaced' | 'ownConfirmed'>
  /** Test hook, awaited before each step. An error it throws escapes as if the process had died there: nothing is undone. */
  beforeStep?: (s: CoordinatorStep) => void | Promise<void>
}

/** Hop 0's hold, booked here by the trip's first write (Store.tripWrites), and when that write was asked for. */
interface PlacedFirst {
  hold: Hold
  sentAt: number
}

type AttemptOutcome = { ok: true; trip: Trip } | { ok: false; failure: HopFailure; restartable: boolean }

const ACTIVE: readonly TripState[] = ['trying', 'confirming', 'aborting']

export class Coordinator {
  readonly #o: CoordinatorOptions
  readonly #random: Random
  readonly #t: CoordinatorTuning
  readonly #log: Logger
  /** Trips this process is working on now (its own leases would not keep a second local worker out). */
  readonly #busy = new Set<string>()

  constructor(opts: CoordinatorOptions) {
    this.#o = opts
    this.#random = opts.random ?? Math.random
    this.#t = { ...DEFAULT_TUNING, ...opts.tuning }
    this.#log = opts.logger.child({ component: 'coordinator' })
  }

  /**
   * Reserve one station per hop of `args.routeId`, all or nothing. Throws
   * NOT_FOUND, BAD_REQUEST or ROUTE_FAILED. `tripId` (default: a new id)
   * names the trip; a trip of that id that already exists is not booked
   * again: its outcome is the answer (IDEMPOTENCY_IN_PROGRESS while it runs),
   * unless it was made more than 24 h ago (REQUEST_ID_KEPT_MS: an earlier use
   * of the request id) or for another route or other times: then
   * IDEMPOTENCY_KEY_REUSED, nothing booked. With `call` (a vehicle's request
   * id run keyed, on a store with Store.tripWrites) the trip's first write
   * claims the id with the trip and its lease, and the write that marks it
   * `confirmed` stores the answer `{trip}`; a key another run holds rejects
   * with KeyHeld (hub/requests/idempotent.ts answers it as a repeat).
   */
  async reserve(vehicleId: string, args: OpArgs<'route.reserve'>, opts: { tripId?: string; call?: KeyedCall } = {}): Promise<Trip> {
    const tripId = opts.tripId ?? this.#o.newTripId?.() ?? newId('t')
    const existing = opts.tripId === undefined ? null : await this.#o.store.trips.getTrip(tripId)
    if (existing) return this.#outcomeOf(existing, vehicleId, args)
    // Checked before anything is written: a request the route refuses takes no lease and leaves no trip.
    const route = this.#o.catalog.byId(args.routeId)
    if (!route) throw new VoltwayError('NOT_FOUND', `no route ${args.routeId} from this hub`, { routeId: args.routeId })
    if (args.times.length !== route.hops.length) {
      throw new VoltwayError('BAD_REQUEST', `the route has ${route.hops.length} hops but ${args.times.length} times were given`, {
        hops: route.hops.length,
        times: args.times.length,
      })
    }
    const nowMs = this.#o.clock.now()
    const trip: TripRecord = {
      tripId,
      vehicleId,
      routeId: route.routeId,
      txStartedAtMs: nowMs,
      attempt: 1,
      state: 'trying',
      legs: this.#plan(tripId, 1, route, args.times),
      failure: null,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    }
    const { store, ownHolds } = this.#o
    // Written before any hold is asked for (module doc, 1). Where the store can, with its lease (and the request id's
    // claim) in the same write, and hop 0's hold here booked in it too: no replica ever sees the trip without its
    // lease, and the hold, named after the trip, is booked under the run's claim.
    let first: PlacedFirst | null = null
    const leg0 = trip.legs[0] as TripLegRecord
    const writes = store.tripWrites
    const open = writes
      ? async (lease: AcquireLeaseInput): Promise<boolean> => {
          const sentAt = this.#o.clock.now()
          const own = leg0.hubId === this.#o.hubId && ownHolds ? ownHolds.ownHoldInput(leg0.holdId, this.#holdRequest(trip, leg0, args.position, args.rangeKm, 0)) : null
          const out = await writes.createLeasedTrip(trip, lease, opts.call, own ?? undefined)
          // A booking the write could not make (blocked, at the limit) is placed as any hold is, waiting or refused.
          if (out.hold?.ok && ownHolds) first = { hold: ownHolds.ownHoldPlaced(out.hold.record), sentAt }
          return out.leased
        }
      : undefined
    return this.#leased(
      tripId,
      async (giveBack) => {
        if (!open) await store.trips.createTrip(trip)
        return this.#reserve(trip, route, args, opts.call, giveBack, first)
      },
      () => {
        throw new VoltwayError('IDEMPOTENCY_IN_PROGRESS', `trip ${tripId} is being booked`, { tripId })
      },
      open,
    )
  }

  /**
   * The answer of a trip booked before (a repeated request): the trip, or why it failed. A trip made
   * more than 24 h ago (an earlier use of the request id), or for another route or other times:
   * IDEMPOTENCY_KEY_REUSED. Changes nothing.
   */
  #outcomeOf(trip: TripRecord, vehicleId: string, args: OpArgs<'route.reserve'>): Trip {
    if (trip.vehicleId !== vehicleId) throw tripNotFound(trip.tripId)
    refuseEarlierUse(trip.createdAtMs, this.#o.clock.now())
    if (trip.routeId !== args.routeId || trip.legs.length !== args.times.length || trip.legs.some((l, i) => l.atMs !== parseTime(args.times[i] as string))) {
      throw otherArgsRefused('route.reserve')
    }
    if (trip.state === 'confirmed' || trip.state === 'cancelling' || trip.state === 'cancelled') return toWire(trip)
    if (trip.state === 'aborted' && trip.failure) {
      const leg = trip.legs[trip.failure.failedHop]
      throw routeFailed({ failedHop: trip.failure.failedHop, hubId: leg?.hubId ?? '', reason: trip.failure.reason as HopFailure['reason'], message: 'the trip was not booked' })
    }
    throw new VoltwayError('IDEMPOTENCY_IN_PROGRESS', `trip ${trip.tripId} is still being booked or undone`, { tripId: trip.tripId })
  }

  /**
   * Run `work` under the trip's lease (and mark it busy here); `refused` when a live replica holds it.
   * `acquire` takes the lease in a write of its own making (LeaseKeeper.acquire's `write`). The lease is
   * given back when `work` settles, or earlier when `work` calls `giveBack` (in the turn it queues its
   * last write, so both share one group commit).
   */
  async #leased<T>(
    tripId: string,
    work: (giveBack: () => void) => Promise<T>,
    refused: () => T | Promise<T>,
    acquire?: (lease: AcquireLeaseInput) => Promise<boolean>,
  ): Promise<T> {
    // Marked busy before the lease is asked for: this replica may take its own lease again, so two local
    // workers of one trip would both get it, and the first to finish would give it back under the other.
    if (this.#busy.has(tripId)) return refused()
    this.#busy.add(tripId)
    let leased = false
    try {
      leased = await this.#o.leases.acquire(leaseNames.trip(tripId), acquire)
    } finally {
      if (!leased) this.#busy.delete(tripId)
    }
    if (!leased) return refused()
    let givenBack = false
    // Not awaited: a release is best effort (one not made only runs out), and queued now it shares the
    // group commit of what is written in the same turn (the trip's last write, or the request's answer).
    // A later acquire of the same lease here waits for it (LeaseKeeper).
    const giveBack = (): void => {
      if (givenBack) return
      givenBack = true
      void this.#o.leases.release(leaseNames.trip(tripId))
    }
    try {
      return await work(giveBack)
    } finally {
      this.#busy.delete(tripId)
      giveBack()
    }
  }

  /** Book `trip` (written already, under its lease): attempts until one books or the failure is final. */
  async #reserve(trip: TripRecord, route: CatalogRoute, args: OpArgs<'route.reserve'>, call: KeyedCall | undefined, giveBack: () => void, first: PlacedFirst | null): Promise<Trip> {
    const { store, clock } = this.#o
    for (;;) {
      // Hop 0's hold booked with the trip belongs to the first attempt only (a restart names new holds).
      const out = await this.#attempt(trip, args, call, giveBack, trip.attempt === 1 ? first : null)
      if (out.ok) return out.trip
      if (!out.restartable || trip.attempt >= this.#t.maxAttempts) {
        this.#log.info({ tripId: trip.tripId, vehicleId: trip.vehicleId, attempt: trip.attempt, ...out.failure }, 'trip failed')
        throw routeFailed(out.failure)
      }
      await sleep(clock, this.#t.restartDelayMs * trip.attempt * (0.5 + this.#random()))
      trip.attempt += 1
      trip.legs = this.#plan(trip.tripId, trip.attempt, route, args.times)
      trip.state = 'trying'
      trip.failure = null
      trip.updatedAtMs = clock.now()
      // A run that lost its request id meanwhile (its claim lapsed in the pause, and a repeat answered the trip's
      // failure) restarts nothing: KeyHeld, and the run answers what the id holds. Checked in the restart's own write
      // where the store can; elsewhere by renewing the claim just before (it then cannot lapse before the save).
      if (call && !store.tripWrites && !(await store.idempotency.renew({ ...call.claimInput, nowMs: clock.now() }))) throw new KeyHeld({ state: 'in_progress' })
      const restarted = call && store.tripWrites ? store.tripWrites.saveTripOwned(trip, { fromStates: ['aborted'] }, call) : store.trips.saveTrip(trip, { fromStates: ['aborted'] })
      if (!(await restarted)) throw routeFailed(out.failure)
      this.#log.debug({ tripId: trip.tripId, attempt: trip.attempt }, 'trip restarted with its original age')
    }
  }

  /** Cancel a confirmed trip of `vehicleId`: every leg's reservation. Resolves how many legs were released. */
  async cancel(vehicleId: string, tripId: string): Promise<number> {
    const { store, clock } = this.#o
    const trip = await store.trips.getTrip(tripId)
    if (!trip || trip.vehicleId !== vehicleId) throw tripNotFound(tripId)
    if (trip.state === 'cancelled' || trip.state === 'cancelling') return 0
    if (trip.state !== 'confirmed') throw tripNotFound(tripId)
    return this.#leased(
      tripId,
      async () => {
        trip.state = 'cancelling'
        trip.updatedAtMs = clock.now()
        if (!(await store.trips.saveTrip(trip, { fromStates: ['confirmed'] }))) return 0
        await this.#finishCancel(trip)
        this.#log.info({ tripId, vehicleId }, 'trip cancelled')
        return trip.legs.length
      },
      () => 0,
    )
  }

  /**
   * After a restart: undo every trip that was not confirmed (releasing every
   * hold that may exist, including ones whose POST may have landed, and once
   * confirms may have been sent, the reservations they may have made), and
   * finish every cancel. Resolves how many trips it finished or undid.
   * Only trips whose lease this replica gets are touched: its own from
   * before a restart, a dead replica's (lease run out), none a live replica
   * is working on; run it again from time to time to take over from replicas
   * that died since.
   */
  async recover(): Promise<{ undone: number; cancelled: number }> {
    const { store } = this.#o
    let undone = 0
    let cancelled = 0
    const trips = await store.trips.listTrips([...ACTIVE, 'cancelling'])
    // Several at a time: each may wait for a peer's timeout.
    await forEachLimit(trips, 16, async (trip) => {
      try {
        const kind = await this.#leased(trip.tripId, () => this.#recoverOne(trip.tripId), () => null)
        if (kind === 'cancelled') cancelled++
        else if (kind === 'undone') undone++
      } catch (err) {
        this.#log.error({ err, tripId: trip.tripId }, 'could not recover a trip; will try again')
      }
    })
    if (undone + cancelled > 0) this.#log.info({ undone, cancelled }, 'recovered unfinished trips')
    return { undone, cancelled }
  }

  /** Finish or undo one unfinished trip (under its lease); null when it ended since it was listed. */
  async #recoverOne(tripId: string): Promise<'cancelled' | 'undone' | null> {
    // Read again under the lease: the replica that held it may have finished it meanwhile.
    const trip = await this.#o.store.trips.getTrip(tripId)
    if (!trip) return null
    if (trip.state === 'cancelling') {
      await this.#finishCancel(trip)
      return 'cancelled'
    }
    if (!ACTIVE.includes(trip.state)) return null
    const confirmSent = trip.state !== 'trying'
    const failure = trip.failure ?? { failedHop: -1, reason: 'INTERNAL' }
    const undone = await this.#undo(trip, trip.legs.map((l) => l.hop), confirmSent, {
      failedHop: failure.failedHop,
      hubId: '',
      reason: 'INTERNAL',
      message: 'the coordinator restarted',
    })
    // Its coordinator, alive after all, wrote first (it confirmed the trip, or is undoing it itself).
    return undone ? 'undone' : null
  }

  #asVoltway(err: unknown): VoltwayError {
    if (err instanceof VoltwayError) return err
    this.#log.error({ err }, 'unexpected error in a trip step')
    return new VoltwayError('INTERNAL', 'internal error')
  }

  /** The hold request of `leg` (from `from`, the vehicle's position or the previous hop's station). */
  #holdRequest(trip: TripRecord, leg: TripLegRecord, from: Position, rangeKm: number, maxWaitMs: number): HoldRequest & { holdId: string } {
    return {
      holdId: leg.holdId,
      txId: trip.tripId,
      txStartedAt: formatTime(trip.txStartedAtMs),
      vehicleId: trip.vehicleId,
      at: formatTime(leg.atMs),
      from,
      rangeKm,
      ttlSeconds: this.#o.holdTtlSeconds,
      maxWaitMs,
    }
  }

  #plan(tripId: string, attempt: number, route: CatalogRoute, times: readonly string[]): TripLegRecord[] {
    return route.hops.map((hubId, hop) => ({
      hop,
      hubId,
      holdId: holdIdFor(this.#o.hubId, tripId, attempt, hop),
      atMs: parseTime(times[hop] as string),
      stationId: null,
      position: null,
      expiresAtMs: null,
      reservationId: null,
    }))
  }

  /**
   * One attempt: holds, then confirms (module doc). `call`: the request's keyed run, whose answer the
   * write that marks the trip confirmed stores where the store can. `giveBack` is called as that write is
   * queued, so the lease is given back in its commit: the trip is done with whatever that write finds.
   */
  async #attempt(trip: TripRecord, args: OpArgs<'route.reserve'>, call: KeyedCall | undefined, giveBack: () => void, first: PlacedFirst | null): Promise<AttemptOutcome> {
    const { clock, participants, store, ownHolds } = this.#o
    const ttlMs = this.#o.holdTtlSeconds * 1000
    // Margins scale down with short TTLs (tests, demos): at most a tenth of the TTL each.
    const t = { ...this.#t, skewMarginMs: Math.min(this.#t.skewMarginMs, ttlMs / 10), confirmReserveMs: Math.min(this.#t.confirmReserveMs, ttlMs / 10) }
    const deadlines: number[] = []
    const holds: Hold[] = []
    let failure: HopFailure | null = null
    let uncertain = false

    for (const leg of trip.legs) {
      const now = clock.now()
      const budget = Math.min(now + ttlMs - t.skewMarginMs, ...deadlines) - now - t.confirmReserveMs
      if (budget <= 0) {
        failure = { failedHop: leg.hop, hubId: leg.hubId, reason: 'TIMEOUT', message: 'no time left to place this hold before the earlier ones expire' }
        break
      }
      const prev = holds[leg.hop - 1]
      const maxWaitMs = Math.max(0, Math.floor(Math.min(t.maxHoldWaitMs, budget)))
      await this.#o.beforeStep?.({ step: 'hold', tripId: trip.tripId, attempt: trip.attempt, hop: leg.hop })
      const placed = leg.hop === 0 ? first : null
      const sentAt = placed?.sentAt ?? clock.now()
      try {
        const hold =
          placed?.hold ??
          (await participants
            .get(leg.hubId)
            .place(this.#holdRequest(trip, leg, prev ? prev.position : args.position, args.rangeKm, maxWaitMs), stepKey(trip.tripId, trip.attempt, leg.hop, 'hold'), maxWaitMs + t.requestTimeoutMs))
        holds.push(hold)
        leg.stationId = hold.stationId
        leg.position = hold.position
        leg.expiresAtMs = parseTime(hold.expiresAt)
        deadlines.push(sentAt + Math.min(ttlMs, parseTime(hold.expiresAt) - sentAt) - t.skewMarginMs)
      } catch (err) {
        const e = this.#asVoltway(err)
        failure = { failedHop: leg.hop, hubId: leg.hubId, reason: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) }
        // A hold whose POST got no clear answer may exist: release it too.
        uncertain = retryable(e)
        break
      }
    }

    if (failure) {
      const touched = trip.legs.filter((l) => l.hop < failure.failedHop || (uncertain && l.hop === failure.failedHop)).map((l) => l.hop)
      if (!(await this.#undo(trip, touched, false, failure))) throw tripTakenOver(trip.tripId)
      const restartable = failure.reason === 'NO_STATION_AVAILABLE' && failure.details?.waitDie === 'died'
      return { ok: false, failure, restartable }
    }

    // Written before any confirm leaves: recovery then knows reservations may exist and must be
    // cancelled (forever if need be); a trip still `trying` only has holds, which expire by themselves.
    trip.state = 'confirming'
    trip.updatedAtMs = clock.now()
    // Each state change is a compare-and-set on the state this worker last wrote: a replica that took
    // the trip over (this one's lease lapsed: its process paused, its database stalled) wins, and this one stops.
    // Where the store can, the hold here is confirmed in that same write (it becomes a reservation only with the trip
    // `confirming`): the peers' confirms then leave at once.
    const ownLeg = ownHolds && store.tripWrites ? trip.legs.find((l) => l.hubId === this.#o.hubId) : undefined
    let own: Promise<HoldConfirmation> | null = null
    if (ownLeg && ownHolds && store.tripWrites) {
      const out = await store.tripWrites.saveTripConfirmingOwn(trip, { fromStates: ['trying'] }, { holdId: ownLeg.holdId, reservationId: reservationIdForHold(ownLeg.holdId), nowMs: clock.now() })
      if (!out.saved || !out.own) throw tripTakenOver(trip.tripId)
      own = ownHolds.ownConfirmed(ownLeg.holdId, out.own)
      // Settled below with the peers' confirms; a rejection is handled there, not left unhandled meanwhile.
      own.catch(() => undefined)
    } else if (!(await store.trips.saveTrip(trip, { fromStates: ['trying'] }))) throw tripTakenOver(trip.tripId)
    await this.#o.beforeStep?.({ step: 'confirm', tripId: trip.tripId, attempt: trip.attempt })
    const confirms = await Promise.allSettled(
      trip.legs.map((leg) =>
        leg === ownLeg && own ? own : participants.get(leg.hubId).confirm(leg.holdId, stepKey(trip.tripId, trip.attempt, leg.hop, 'confirm')),
      ),
    )
    const bad = confirms.findIndex((c) => c.status === 'rejected')
    if (bad >= 0) {
      const leg = trip.legs[bad] as TripLegRecord
      const e = this.#asVoltway((confirms[bad] as PromiseRejectedResult).reason)
      const f: HopFailure = { failedHop: bad, hubId: leg.hubId, reason: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) }
      if (!(await this.#undo(trip, trip.legs.map((l) => l.hop), true, f))) throw tripTakenOver(trip.tripId)
      return { ok: false, failure: f, restartable: false }
    }
    confirms.forEach((c, i) => {
      const leg = trip.legs[i] as TripLegRecord
      if (c.status === 'fulfilled') {
        leg.reservationId = c.value.reservationId
        leg.stationId = c.value.stationId
        leg.position = c.value.position
      }
    })
    trip.state = 'confirmed'
    trip.updatedAtMs = clock.now()
    // With the request's answer where the store can (a keyed call): one commit for both.
    const saved = call && store.tripWrites
      ? store.tripWrites.saveTripAnswered(trip, { fromStates: ['confirming'] }, { call, status: 200, body: (t) => JSON.stringify({ trip: toWire(t) }) })
      : store.trips.saveTrip(trip, { fromStates: ['confirming'] })
    // Saved, the trip needs its lease no more; not saved, another replica owns the trip (and its lease, which
    // this release, by owner, leaves alone). Only where the release is queued into the save's own commit
    // (Store.tripWrites: SQLite's group commit): elsewhere the two may commit in either order, and a trip
    // `confirming` without its lease would be another replica's to undo. There #leased gives it back after.
    if (store.tripWrites) giveBack()
    // Taken over meanwhile: the other replica is cancelling what the confirms made, the vehicle must not be told ok.
    if (!(await saved)) throw tripTakenOver(trip.tripId)
    this.#log.info({ tripId: trip.tripId, vehicleId: trip.vehicleId, hops: trip.legs.length, attempt: trip.attempt }, 'trip booked')
    return { ok: true, trip: toWire(trip) }
  }

  /**
   * Undo an attempt: per touched hop, release the hold, then (once confirms
   * may have been sent) cancel the reservation it may have become; in that
   * order, so a confirm still running at the hop loses to the release.
   * Resolves false, having touched nothing, when the trip is no longer in the
   * state this worker knew (another replica wrote it since).
   */
  async #undo(trip: TripRecord, hops: readonly number[], confirmSent: boolean, failure: HopFailure): Promise<boolean> {
    const { store, clock, participants } = this.#o
    const t = this.#t
    const from = trip.state
    trip.state = 'aborting'
    trip.failure = { failedHop: failure.failedHop, reason: failure.reason }
    trip.updatedAtMs = clock.now()
    if (!(await store.trips.saveTrip(trip, { fromStates: [from] }))) return false

    const holdUntil = clock.now() + t.requestTimeoutMs + t.maxHoldWaitMs + this.#o.holdTtlSeconds * 1000 + t.skewMarginMs
    const pending: ReleaseTask[] = []
    await Promise.all(
      hops.map(async (hop) => {
        const leg = trip.legs[hop] as TripLegRecord
        const tasks = [this.#task(trip, leg, 'hold', holdUntil)]
        if (confirmSent) tasks.push(this.#task(trip, leg, 'reservation', leg.atMs))
        for (let i = 0; i < tasks.length; i++) {
          const task = tasks[i] as ReleaseTask
          try {
            const p = participants.get(leg.hubId)
            if (task.kind === 'hold') await p.release(task.targetId, task.idempotencyKey, t.requestTimeoutMs)
            else await p.cancelReservation(task.targetId, task.idempotencyKey, t.requestTimeoutMs)
          } catch (err) {
            if (err instanceof VoltwayError && !retryable(err)) continue
            pending.push(...tasks.slice(i))
            return
          }
        }
      }),
    )
    trip.state = 'aborted'
    trip.updatedAtMs = clock.now()
    // Another replica undoing it too (both saw `aborting`) made the same releases: the first to finish records the pending ones.
    if (!(await store.trips.saveTrip(trip, { fromStates: ['aborting'], releases: pending }))) return true
    for (const task of pending) this.#o.releaser.schedule(task)
    if (pending.length > 0) this.#log.warn({ tripId: trip.tripId, pending: pending.length }, 'some releases will be retried')
    return true
  }

  async #finishCancel(trip: TripRecord): Promise<void> {
    const { store, clock, participants } = this.#o
    const pending: ReleaseTask[] = []
    await Promise.all(
      trip.legs.map(async (leg) => {
        const task = this.#task(trip, leg, 'reservation', leg.atMs, 'cancel')
        try {
          await participants.get(leg.hubId).cancelReservation(task.targetId, task.idempotencyKey, this.#t.requestTimeoutMs)
        } catch (err) {
          if (err instanceof VoltwayError && !retryable(err)) return
          pending.push(task)
        }
      }),
    )
    trip.state = 'cancelled'
    trip.updatedAtMs = clock.now()
    // Another replica finishing the same cancel (this one's lease lapsed) records the pending releases once.
    if (!(await store.trips.saveTrip(trip, { fromStates: ['cancelling'], releases: pending }))) return
    for (const task of pending) this.#o.releaser.schedule(task)
  }

  #task(trip: TripRecord, leg: TripLegRecord, kind: 'hold' | 'reservation', untilMs: number, step: 'release' | 'unconfirm' | 'cancel' = kind === 'hold' ? 'release' : 'unconfirm'): ReleaseTask {
    const key = stepKey(trip.tripId, trip.attempt, leg.hop, step)
    return {
      releaseId: key,
      tripId: trip.tripId,
      hubId: leg.hubId,
      kind,
      targetId: kind === 'hold' ? leg.holdId : (leg.reservationId ?? reservationIdForHold(leg.holdId)),
      vehicleId: trip.vehicleId,
      idempotencyKey: key,
      untilMs,
      attempts: 0,
      nextAtMs: this.#o.clock.now(),
    }
  }
}

export function toWire(trip: TripRecord): Trip {
  return {
    tripId: trip.tripId,
    legs: trip.legs.map((l) => ({
      hubId: l.hubId,
      stationId: l.stationId ?? '',
      position: l.position ?? { lat: 0, lon: 0 },
      at: formatTime(l.atMs),
      reservationId: l.reservationId ?? reservationIdForHold(l.holdId),
    })),
  }
}
