/**
 * Reservations for vehicles (docs/protocol.md "Reservation rules"). Every rule a
 * user can break is checked before anything is written; the window rule is
 * enforced by the store inside its booking transaction.
 */
import type { Logger } from 'pino'
import { formatTime, newId, parseTime, type Position, type Reservation } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import { distanceKm, type StationRegistry } from '../stations/index.js'
import { KeyHeld, otherArgsRefused, refuseEarlierUse, type BookingOutcome, type CreateReservationInput, type KeyedAnswer, type ReservationRecord, type Store } from '../store/index.js'
import { bookNearest } from './book-nearest.js'
import { reservationErrors as errors } from './errors.js'
import { checkLead, type ReservationRules } from './rules.js'
import { VehicleLimit } from './vehicle-limit.js'

export interface ReservationServiceDeps {
  hubId: string
  stations: StationRegistry
  store: Store
  clock: Clock
  rules: ReservationRules
  logger?: Logger
  /** Id for a new reservation. Default `r-<uuid>`. */
  newReservationId?: () => string
}

export interface CreateReservationArgs {
  at: string
  position: Position
  rangeKm: number
  stationId?: string
}

export type CancelReservationArgs = { reservationId: string } | { all: true }

export class ReservationService {
  readonly #d: ReservationServiceDeps
  readonly #newId: () => string

  constructor(deps: ReservationServiceDeps) {
    this.#d = deps
    this.#newId = deps.newReservationId ?? (() => newId('r'))
  }

  get rules(): ReservationRules {
    return this.#d.rules
  }

  /**
   * Reserve the named station, or the nearest free one within `rangeKm` of
   * `position`. Throws TOO_SOON, TOO_FAR_AHEAD, NOT_FOUND, OUT_OF_RANGE,
   * RESERVATION_LIMIT (the vehicle has `rules.maxPerVehicle` live bookings
   * here), RESERVATION_CONFLICT, NO_STATION_AVAILABLE or BAD_REQUEST (VoltwayError), having
   * written nothing. `reservationId` (default: a new id) names the booking; a
   * reservation of this vehicle with that id is not booked again but answered
   * (a request repeated after its first run's answer was lost), unless it was
   * booked more than 24 h ago (REQUEST_ID_KEPT_MS: an earlier use of the
   * request id) or for another `at` or named station: then
   * IDEMPOTENCY_KEY_REUSED, nothing written. With `keyed` (the request id's
   * run, from the request-id layer, on a store with keyedReservations) the
   * booking's write also claims the request id and stores `keyed`'s answer;
   * a request id another run holds rejects with KeyHeld, nothing booked.
   */
  async create(vehicleId: string, args: CreateReservationArgs, opts: { reservationId?: string; keyed?: KeyedAnswer<ReservationRecord> } = {}): Promise<Reservation> {
    const { reservationId, keyed } = opts
    if (reservationId === undefined) return this.#create(vehicleId, args, this.#newId(), keyed)
    try {
      return await this.#create(vehicleId, args, reservationId, keyed)
    } catch (err) {
      // The request id is another run's: that run's answer is this request's (the request-id layer gives it).
      if (err instanceof KeyHeld) throw err
      // Looked up only when the booking did not happen: the store refuses an id that exists (DUPLICATE_ID),
      // so a new booking proves there was none, and the common case costs no extra read.
      const earlier = await this.#d.store.reservations.getReservation(reservationId).catch(() => null)
      if (earlier && earlier.vehicleId === vehicleId) return this.#bookedBefore(earlier, args)
      throw err
    }
  }

  /**
   * What a create answers when an earlier run of the same request booked `earlier` (see create): that
   * reservation. Booked more than 24 h ago (an earlier use of the request id), or for another time or
   * another named station: IDEMPOTENCY_KEY_REUSED. Changes nothing.
   */
  #bookedBefore(earlier: ReservationRecord, args: CreateReservationArgs): Reservation {
    refuseEarlierUse(earlier.createdAtMs, this.#d.clock.now())
    if (earlier.atMs !== parseTime(args.at) || (args.stationId !== undefined && earlier.stationId !== args.stationId)) throw otherArgsRefused('reservation.create')
    return this.toWire(earlier)
  }

  async #create(vehicleId: string, args: CreateReservationArgs, reservationId: string, keyed: KeyedAnswer<ReservationRecord> | undefined): Promise<Reservation> {
    const { stations, store, clock, rules } = this.#d
    const createReservation = keyed === undefined ? (i: CreateReservationInput) => store.reservations.createReservation(i) : keyedCreate(store, keyed)
    const nowMs = clock.now()
    const atMs = parseTime(args.at)
    if (!Number.isFinite(atMs)) throw errors.badTime(args.at)
    checkLead(atMs, nowMs, rules)
    const station = args.stationId === undefined ? undefined : stations.get(args.stationId)
    if (args.stationId !== undefined && !station) throw errors.stationNotFound(args.stationId)
    if (station) {
      const d = distanceKm(args.position, station.position)
      if (d > args.rangeKm) throw errors.outOfRange(station.stationId, d, args.rangeKm)
    }
    // The vehicle's bookings here run one at a time, each counted against its limit first (./vehicle-limit.ts).
    const record = await VehicleLimit.for(store).book({ vehicleId }, rules, () => clock.now(), async (limit): Promise<ReservationRecord> => {
      const base = { reservationId, vehicleId, atMs, windowMs: rules.windowMs, nowMs: clock.now(), ...(limit ? { limit } : {}) }
      if (station) {
        const outcome = await createReservation({
          ...base,
          candidates: [{ stationId: station.stationId, position: station.position }],
        })
        if (outcome.ok) return outcome.record
        VehicleLimit.refuseOverLimit(outcome, rules)
        throw errors.conflict(station.stationId, atMs, rules.windowMs)
      }
      const { outcome, tried } = await bookNearest(stations, args.position, args.rangeKm, (candidates) =>
        createReservation({ ...base, candidates }),
      )
      if (outcome.ok) return outcome.record
      VehicleLimit.refuseOverLimit(outcome, rules)
      throw errors.noStation(args.rangeKm, tried)
    })
    this.#d.logger?.info({ vehicleId, reservationId: record.reservationId, stationId: record.stationId, at: formatTime(atMs) }, 'reservation created')
    return this.toWire(record)
  }

  /**
   * Cancel one of the vehicle's reservations (another's or an unknown one: NOT_FOUND), or all its
   * current ones. With `asOfMs` (epoch ms: when the request was first seen, RequestContext.firstSeenAtMs),
   * "all" is those made at or before it: a request repeated after its first run's answer was lost does
   * not cancel what the vehicle booked since (docs/protocol.md "Repeated requests").
   */
  async cancel(vehicleId: string, args: CancelReservationArgs, opts: { asOfMs?: number } = {}): Promise<number> {
    const { store, clock, rules } = this.#d
    if ('reservationId' in args) {
      const done = await store.reservations.cancelReservation(args.reservationId, vehicleId)
      if (!done) throw errors.reservationNotFound(args.reservationId)
      this.#d.logger?.info({ vehicleId, reservationId: args.reservationId }, 'reservation cancelled')
      return 1
    }
    const n = await store.reservations.cancelVehicleReservations(vehicleId, this.#currentFrom(clock.now(), rules), opts.asOfMs)
    this.#d.logger?.info({ vehicleId, cancelled: n }, 'reservations cancelled')
    return n
  }

  /** The vehicle's current reservations (whose window has not ended), earliest first. */
  async list(vehicleId: string): Promise<Reservation[]> {
    const { store, clock, rules } = this.#d
    const records = await store.reservations.listVehicleReservations(vehicleId, this.#currentFrom(clock.now(), rules))
    return records.map((r) => this.toWire(r))
  }

  toWire(r: ReservationRecord): Reservation {
    const w = this.#d.rules.windowMs
    return {
      reservationId: r.reservationId,
      stationId: r.stationId,
      hubId: this.#d.hubId,
      vehicleId: r.vehicleId,
      position: { lat: r.position.lat, lon: r.position.lon },
      at: formatTime(r.atMs),
      windowStart: formatTime(r.atMs - w),
      windowEnd: formatTime(r.atMs + w),
    }
  }

  /** A reservation is current while its window has not ended: `at + window >= now`. */
  #currentFrom(nowMs: number, rules: ReservationRules): number {
    return nowMs - rules.windowMs
  }
}

/**
 * The booking write of a create whose request id rides in it (KeyedReservationWrites): `keyed`
 * needs a store that has them, which the request-id layer only asks of one that does.
 */
function keyedCreate(store: Store, keyed: KeyedAnswer<ReservationRecord>): (i: CreateReservationInput) => Promise<BookingOutcome<ReservationRecord>> {
  const writes = store.keyedReservations
  if (writes === undefined) throw new Error('a keyed reservation.create needs a store with keyedReservations')
  return (i) => writes.createReservation(i, keyed)
}
