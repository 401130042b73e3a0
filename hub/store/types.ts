/**
 * The hub's storage contract.
 *
 * A Store is composed of sub-stores, one per area, each a small Promise-based
 * interface with its own files: `reservations` (reservations and federation
 * holds) is the first. Sessions, station events, receipts, trips and
 * idempotency keys are added the same way:
 *
 * 1. declare `FooStore` in `hub/store/foo.ts` (records + interface + TSDoc contract);
 * 2. add `readonly foo: FooStore` to {@link Store} below;
 * 3. implement it in `hub/store/memory/foo.ts`, `hub/store/sqlite/foo.ts` and
 *    `hub/store/postgres/foo.ts`, append its tables to
 *    `hub/store/sqlite/migrations.ts` and `hub/store/postgres/migrations.ts`
 *    (both append-only) and construct it in `MemoryStore` / `SqliteStore` /
 *    `PostgresStore`;
 * 4. put its decisions in pure functions in `hub/store/foo-rules.ts` (as
 *    booking-rules.ts, idempotency-rules.ts, peer-hold-rules.ts,
 *    charging-rules.ts), called by every implementation; SQL that must keep a
 *    rule inside its transaction says which (`-- rule: isLiveHold (booking-rules.ts)`);
 * 5. add its rules to the shared contract suite (`test/helpers/store-contract.ts`
 *    or a sibling `store-foo-contract.ts`), which runs against every
 *    implementation, with a check named for each rule kept in SQL.
 *
 * General contract for every method of every sub-store:
 * - Every method returns a Promise and never throws synchronously.
 * - Each method is one atomic unit: it sees and leaves the database in a
 *   consistent state even when other processes (SQLite: other processes on the
 *   same file; PostgreSQL: other hub replicas) write at the same time.
 * - Times are epoch milliseconds. Rules that depend on the current time take a
 *   `nowMs` argument from the caller's injected Clock; a store never reads the
 *   wall clock itself.
 * - Failures that are not the caller's fault reject with a StoreError.
 */
import type { Position } from '../../protocol/index.js'
import type { AccountsStore } from './accounts.js'
import type { ChargingStore } from './charging.js'
import type { IdempotencyStore, KeyedAnswer, KeyedCall } from './idempotency.js'
import type { AcquireLeaseInput, LeaseStore } from './leases.js'
import type { PeerHoldRecord, SaveTripOptions, TripRecord, TripStore } from './trips.js'

/** A confirmed booking of one station for one vehicle at one time. */
export interface ReservationRecord {
  reservationId: string
  stationId: string
  vehicleId: string
  /** The station's position when it was booked. */
  position: Position
  atMs: number
  createdAtMs: number
  /** The federation hold this reservation was confirmed from, or null. */
  holdId: string | null
}

/**
 * A temporary booking placed by the federation's Try-Confirm/Cancel. While
 * unconfirmed and not expired it blocks its station exactly like a
 * reservation; once `nowMs >= expiresAtMs` it counts as gone.
 */
export interface HoldRecord {
  holdId: string
  stationId: string
  vehicleId: string
  position: Position
  atMs: number
  expiresAtMs: number
  /** The coordinator's transaction, and when it started (wait-die ordering). */
  txId: string
  txStartedAtMs: number
  createdAtMs: number
  /** Set once the hold is confirmed: the reservation that replaced it. */
  reservationId: string | null
}

/** One station's position in a booking request. */
export interface BookingCandidate {
  stationId: string
  position: Position
}

/** Something that blocks a station around a time: a reservation or a live hold. */
export type Booking =
  | { kind: 'reservation'; id: string; stationId: string; vehicleId: string; atMs: number }
  | {
      kind: 'hold'
      id: string
      stationId: string
      vehicleId: string
      atMs: number
      expiresAtMs: number
      txId: string
      txStartedAtMs: number
    }

interface BookingRequest {
  vehicleId: string
  atMs: number
  /** Stations to try, most preferred first; the first one free at `atMs` is booked. */
  candidates: readonly BookingCandidate[]
  /** Minimum distance in time between two bookings of one station. */
  windowMs: number
  /** The caller's current time: decides which holds have expired, and becomes `createdAtMs`. */
  nowMs: number
  /**
   * The vehicle's booking limit, for a store whose `limitsInBooking` is true
   * to check inside the booking's transaction (rule: atLimit of the count of
   * isLiveVehicleBooking, less the live peer-ledger entries of that vehicle id,
   * ./booking-rules.ts): at the limit it books nothing and resolves
   * `{ok:false, conflicts:[], overLimit: <count>}`. Other stores ignore it.
   */
  limit?: VehicleLimitCheck
}

/** A vehicle may have fewer than `max` live bookings; reservations with `atMs >= fromMs` are live. */
export interface VehicleLimitCheck {
  max: number
  fromMs: number
}

export interface CreateReservationInput extends BookingRequest {
  reservationId: string
  holdId?: string | null
}

export interface PlaceHoldInput extends BookingRequest {
  holdId: string
  expiresAtMs: number
  txId: string
  txStartedAtMs: number
}

/** A booking either succeeded, or every candidate was blocked by the bookings listed. */
export type BookingOutcome<R> = { ok: true; record: R } | { ok: false; conflicts: Booking[]; overLimit?: number }

export type ConfirmHoldOutcome =
  | { status: 'confirmed'; reservation: ReservationRecord }
  | { status: 'expired'; hold: HoldRecord }
  | { status: 'not_found' }

export interface BookingQuery {
  stationIds: readonly string[]
  atMs: number
  windowMs: number
  nowMs: number
  /**
   * When the question came in, ms on this process's monotonic clock (`performance.now()`). A store
   * may answer from a look at the database made after that instant instead of a new one: the answer
   * holds every commit made before the question came in. `nowMs` must then be the hub's time at that
   * same instant: holds' expiry is judged there, so a hold the look still saw counts as live only if
   * it was live when the question came in, and the answer for each station is true at some instant
   * between the question and its answer (stations not yet in an index are read fresh, so two
   * stations' answers may hold at different instants). Absent: as of now.
   */
  receivedAt?: number
}

export interface ReservationCounts {
  /** Every stored reservation. */
  reservations: number
  /** Holds neither confirmed nor expired at `nowMs`. */
  activeHolds: number
}

/**
 * Reservations and holds.
 *
 * THE RULE: no two bookings (reservations or live holds) of one station are
 * ever closer in time than the window (`|at1 - at2| < windowMs` is a
 * conflict; exactly `windowMs` apart is allowed; the predicates are
 * `withinWindow` and `isLiveHold` in ./booking-rules.ts). `createReservation` and
 * `placeHold` check and insert so that no other writer can slip in between
 * (SQLite: one `BEGIN IMMEDIATE` transaction, so two processes on one file
 * serialize, the check answered by the booking index only while that lock
 * shows nobody else wrote, hub/store/sqlite/reservations.ts; PostgreSQL: the
 * EXCLUDE constraint of `booking_slots` decides every insert,
 * hub/store/postgres/reservations.ts). No in-memory check outside that
 * transaction may stand in for it.
 */
export interface ReservationStore {
  /**
   * Whether createReservation and placeHold check `limit` inside their
   * transaction (exact, whoever else writes the database). When false the
   * caller counts before booking (hub/reservations/vehicle-limit.ts).
   */
  readonly limitsInBooking: boolean

  /**
   * Atomically book the first candidate with no conflicting booking at `atMs`
   * and insert the reservation. With a single candidate this is "book this
   * station or fail"; with several it is race-free "nearest free station".
   * Resolves `{ok:false, conflicts}` (and writes nothing) when every candidate
   * is blocked or the list is empty. Rejects with StoreError('DUPLICATE_ID')
   * when `reservationId` exists.
   */
  createReservation(input: CreateReservationInput): Promise<BookingOutcome<ReservationRecord>>

  /** Like createReservation, for a federation hold that expires at `expiresAtMs`. */
  placeHold(input: PlaceHoldInput): Promise<BookingOutcome<HoldRecord>>

  /**
   * Turn a live hold into a reservation with id `reservationId` (the slot is
   * never free in between). Idempotent: confirming a confirmed hold resolves
   * the reservation made the first time. An expired hold is not confirmed.
   */
  confirmHold(input: { holdId: string; reservationId: string; nowMs: number }): Promise<ConfirmHoldOutcome>

  /** Delete an unconfirmed hold. Resolves false when it does not exist or was confirmed. */
  releaseHold(holdId: string): Promise<boolean>

  /** A hold by id, whatever its state (check `expiresAtMs` / `reservationId`), or null. */
  getHold(holdId: string): Promise<HoldRecord | null>

  /** A reservation by id, or null. */
  getReservation(reservationId: string): Promise<ReservationRecord | null>

  /** Delete one reservation if it belongs to `vehicleId`. Resolves false (and deletes nothing) otherwise. */
  cancelReservation(reservationId: string, vehicleId: string): Promise<boolean>

  /**
   * Delete every reservation of `vehicleId` with `atMs >= fromMs` and, given
   * `createdUpToMs`, `createdAtMs <= createdUpToMs` (rule: isCancelledWithAll,
   * ./booking-rules.ts); resolves how many.
   */
  cancelVehicleReservations(vehicleId: string, fromMs: number, createdUpToMs?: number): Promise<number>

  /** The reservations of `vehicleId` with `atMs >= fromMs`, earliest first (ties by id). */
  listVehicleReservations(vehicleId: string, fromMs: number): Promise<ReservationRecord[]>

  /**
   * How many live bookings `vehicleId` has (rule: isLiveVehicleBooking,
   * ./booking-rules.ts): reservations with `atMs >= fromMs`, and holds live
   * at `nowMs`, whoever placed them. A read at the time of the call; the
   * limit it serves is enforced by hub/reservations/vehicle-limit.ts.
   */
  countVehicleBookings(q: { vehicleId: string; fromMs: number; nowMs: number }): Promise<number>

  /**
   * Every booking of the given stations that conflicts with `atMs` under the
   * window rule (reservations, and holds live at `nowMs`), in one query
   * however many stations are asked about. Order: by station, then time.
   * An implementation may answer from memory if the answer is the
   * database's at the time of the call (SQLite: ../booking-index.ts); the
   * booking methods above never do.
   */
  findBookings(query: BookingQuery): Promise<Booking[]>

  /** Delete holds that expired (unconfirmed, `expiresAtMs <= nowMs`); resolves how many. Housekeeping only. */
  deleteExpiredHolds(nowMs: number): Promise<number>

  /** Numbers for metrics. */
  counts(nowMs: number): Promise<ReservationCounts>
}

/**
 * A peer's hold and its peer-hold ledger entry (TripStore) written as one
 * atomic write, by a store whose sub-stores share one transaction (SQLite):
 * one commit per hold and per confirm where the two calls need two. The
 * outcomes are those of the two calls made one after the other, with the
 * undo folded in: a ledger that refuses the entry leaves nothing booked.
 *
 * With `keyed` (KeyedAnswer, ./idempotency.ts) the write also claims the
 * call's Idempotency-Key first, while no earlier write did; a claim that is
 * not `claimed` changes nothing else and rejects with KeyHeld. When the
 * write books (or confirms), it stores `keyed`'s answer for the key too.
 */
export interface PeerHoldWrites {
  /**
   * placeHold, and when it books, recordPeerHold of the hold for
   * `peerHubId`, in one write. When the ledger already knows `input.holdId`
   * (the tombstone of a release that overtook this placement, or another
   * peer's id), nothing is booked and that entry is the answer
   * (`{ ok: false, known }`). `input.limit` is the peer vehicle's limit
   * (docs/protocol.md "Reservation rules"), counted in the same write over
   * the ledger: the live entries (isLivePeerHold, ./peer-hold-rules.ts) of
   * `peerHubId` for `input.vehicleId`; at it nothing is booked and the
   * outcome is `{ ok: false, conflicts: [], overLimit: <count> }`, exact
   * whatever the number of processes on the file. Otherwise as placeHold,
   * rejections included.
   */
  placePeerHold(input: PlaceHoldInput, peerHubId: string, keyed?: KeyedAnswer<HoldRecord>): Promise<BookingOutcome<HoldRecord> | { ok: false; known: PeerHoldRecord }>
  /**
   * confirmHold, and when it confirms, peerHoldConfirmed, in one write, for
   * the hold of `peerHubId`. An id the ledger does not know, or knows as
   * another peer's, confirms nothing: `{ status: 'unknown' }`; an entry that
   * may not be confirmed (released since: CONFIRMABLE_PEER_HOLD_STATES),
   * `{ status: 'released' }`. A hold that is not confirmed (expired, gone)
   * changes nothing, ledger included: the outcome is confirmHold's with the
   * ledger `entry` read in the write, for the caller to re-book its slot.
   */
  confirmPeerHold(
    input: { holdId: string; reservationId: string; nowMs: number },
    peerHubId: string,
    keyed?: KeyedAnswer<ReservationRecord>,
  ): Promise<PeerConfirmOutcome>
}

/** What PeerHoldWrites.confirmPeerHold answers. */
export type PeerConfirmOutcome =
  | { status: 'confirmed'; reservation: ReservationRecord }
  | (Exclude<ConfirmHoldOutcome, { status: 'confirmed' }> & { entry: PeerHoldRecord })
  | { status: 'released' }
  | { status: 'unknown' }

/**
 * A vehicle's reservation.create with its request id's claim and answer
 * (KeyedAnswer, ./idempotency.ts; the request-id layer, hub/requests/
 * idempotent.ts) in the booking's own write, by a store whose sub-stores
 * share one transaction (SQLite): one commit where claim, booking and answer
 * take three. The write claims the key first while no earlier write of the
 * run did (a claim that is not `claimed` changes nothing else and rejects
 * with KeyHeld), else checks the run still owns it; when it books, it stores
 * `keyed`'s answer for the key too. Otherwise as createReservation,
 * outcomes and rejections included.
 */
export interface KeyedReservationWrites {
  createReservation(input: CreateReservationInput, keyed: KeyedAnswer<ReservationRecord>): Promise<BookingOutcome<ReservationRecord>>
}

/**
 * The coordinator's trip writes that carry more than the trip, by a store
 * whose sub-stores share one transaction (SQLite): one commit where the
 * separate calls take two or three (hub/trips/coordinator.ts).
 */
export interface TripWrites {
  /**
   * A new trip, under its lease, with (`call`) the vehicle's request id
   * claimed first, and (`ownHold`) its first hop's hold at this hub, in one
   * write: the claim as KeyedAnswer's writes make it (a key not `claimed`
   * changes nothing else and rejects with KeyHeld), then LeaseStore.acquire's
   * rule, then TripStore.createTrip, then ReservationStore.placeHold's
   * booking. `leased` false: a live replica holds the lease, and neither the
   * trip nor the hold is written (a claim made stays the run's). No replica
   * ever sees the trip without its lease. `hold`: the booking's outcome (null
   * without `ownHold`); one refused leaves the trip written. Rejects as
   * createTrip (DUPLICATE_ID), the write then rolled back whole.
   */
  createLeasedTrip(trip: TripRecord, lease: AcquireLeaseInput, call?: KeyedCall, ownHold?: PlaceHoldInput): Promise<{ leased: boolean; hold: BookingOutcome<HoldRecord> | null }>
  /**
   * TripStore.saveTrip (the trip marked `confirming`), and when it saved,
   * ReservationStore.confirmHold of its hold at this hub (`own`), in one
   * write: the hold becomes a reservation in the commit that makes the trip
   * `confirming`, never without it. `own` null: not saved, nothing confirmed.
   */
  saveTripConfirmingOwn(trip: TripRecord, opts: SaveTripOptions, own: { holdId: string; reservationId: string; nowMs: number }): Promise<{ saved: boolean; own: ConfirmHoldOutcome | null }>
  /**
   * TripStore.saveTrip while the run of `call` still owns its request id:
   * otherwise nothing is written and the call rejects with KeyHeld (the
   * id's answer may be given already: a run that lost its key must not book
   * on, as when it restarts an attempt).
   */
  saveTripOwned(trip: TripRecord, opts: SaveTripOptions, call: KeyedCall): Promise<boolean>
  /**
   * TripStore.saveTrip, and when it saved, `keyed`'s answer made from the
   * trip, in one write. The trip is saved even when the run no longer owns
   * its key (its claim lapsed and another run took it): the answer is then
   * not stored, and the call rejects with KeyHeld after the commit, so the
   * run answers what the key holds.
   */
  saveTripAnswered(trip: TripRecord, opts: SaveTripOptions, keyed: KeyedAnswer<TripRecord>): Promise<boolean>
}

/** The hub's database. */
export interface Store {
  readonly reservations: ReservationStore
  /** Charging sessions, station events and receipts (./charging.ts). */
  readonly charging: ChargingStore
  /** Idempotency keys of the federation API (./idempotency.ts). */
  readonly idempotency: IdempotencyStore
  /** Coordinated trips, their release queue, and the ledger of holds peers placed here (./trips.ts). */
  readonly trips: TripStore
  /** Which hub replica owns which background work (./leases.ts). */
  readonly leases: LeaseStore
  /** Vehicles and stations that may log in, and station enrollment codes (./accounts.ts). */
  readonly accounts: AccountsStore
  /** A peer's hold or confirm and its ledger entry in one write, where the store can (SQLite); absent: the two calls, one after the other. */
  readonly peerHolds?: PeerHoldWrites
  /** reservation.create's booking with its request id's claim and answer in one write, where the store can (SQLite); absent: the request-id layer claims and answers around the booking. */
  readonly keyedReservations?: KeyedReservationWrites
  /** A trip created with its lease and request id's claim, and saved with its answer, in one write each, where the store can (SQLite); absent: one call each. */
  readonly tripWrites?: TripWrites
  /** Resolves when the database can take a write, changing no data (for start-up and `/healthz`); rejects with StoreError otherwise. */
  ping(): Promise<void>
  /** Release the database. Further calls reject with StoreError('CLOSED'). Idempotent. */
  close(): Promise<void>
}
