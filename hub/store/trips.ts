/**
 * Both sides of a federated trip (docs/design.md "Atomic trips ... Try-Confirm/Cancel").
 *
 * Coordinator side: the trips this hub coordinates, written BEFORE each step
 * so that after a crash `recover()` can finish or undo each one, and a
 * durable queue of releases (holds and reservations at some hub) still to
 * be done.
 *
 * Participant side: a ledger of the holds peers placed here, keyed by hold id,
 * with the peer that owns each one. It records tombstones: a hold released
 * before its POST arrived stays `released`, so the late POST is refused.
 */
import type { Position } from '../../protocol/index.js'

export type TripState =
  /** Placing holds (attempt `attempt`). */
  | 'trying'
  /** Every hold placed; confirming them. */
  | 'confirming'
  /** Every leg is a reservation. */
  | 'confirmed'
  /** Undoing the attempt. */
  | 'aborting'
  /** Undone; nothing of it is booked (pending releases are in the release queue). */
  | 'aborted'
  /** The vehicle cancelled a confirmed trip; legs being released. */
  | 'cancelling'
  | 'cancelled'

export const TRIP_STATES: readonly TripState[] = ['trying', 'confirming', 'confirmed', 'aborting', 'aborted', 'cancelling', 'cancelled']

export interface TripLegRecord {
  hop: number
  hubId: string
  /** The hold id of the current attempt at this hop (named by the coordinator before the POST). */
  holdId: string
  atMs: number
  /** Known once the hold is placed. */
  stationId: string | null
  position: Position | null
  expiresAtMs: number | null
  /** Known once the hold is confirmed. */
  reservationId: string | null
}

export interface TripRecord {
  tripId: string
  vehicleId: string
  routeId: string
  /** The transaction's start, kept across restarts of the attempt (wait-die age). */
  txStartedAtMs: number
  attempt: number
  state: TripState
  legs: TripLegRecord[]
  /** Why the trip failed, once it did. */
  failure: { failedHop: number; reason: string } | null
  createdAtMs: number
  updatedAtMs: number
}

/** One release still to be done at some hub; retried with backoff until done or pointless. */
export interface ReleaseTask {
  releaseId: string
  tripId: string
  hubId: string
  kind: 'hold' | 'reservation'
  /** The hold id or reservation id to release. */
  targetId: string
  vehicleId: string
  /** The Idempotency-Key to send (the same on every retry). */
  idempotencyKey: string
  /** After this the release is pointless (the hold has expired by itself); null: until done. */
  untilMs: number | null
  attempts: number
  nextAtMs: number
}

/** `placing` is not written by this version (kept so older rows read back). */
export type PeerHoldState = 'placing' | 'placed' | 'confirmed' | 'released'

/** A hold a peer placed (or tried to place, or released) at this hub. */
export interface PeerHoldRecord {
  holdId: string
  peerHubId: string
  state: PeerHoldState
  txId: string | null
  vehicleId: string | null
  stationId: string | null
  position: Position | null
  atMs: number | null
  expiresAtMs: number | null
  reservationId: string | null
  createdAtMs: number
  updatedAtMs: number
}

export interface RecordPeerHoldInput {
  holdId: string
  peerHubId: string
  txId: string
  vehicleId: string
  stationId: string
  position: Position
  atMs: number
  expiresAtMs: number
  nowMs: number
}

export interface SaveTripOptions {
  /** Write only if the stored trip is in one of these states (compare-and-set); resolves false otherwise. */
  fromStates?: readonly TripState[]
  /** Release tasks to enqueue in the same transaction. */
  releases?: readonly ReleaseTask[]
}

/**
 * Contract (in addition to the general Store contract in ./types.ts): every
 * method is one transaction; `saveTrip` writes the trip and its releases
 * together or not at all.
 */
export interface TripStore {
  /** Insert a new trip. Rejects with StoreError('DUPLICATE_ID') when the id exists. */
  createTrip(trip: TripRecord): Promise<void>
  /** Replace a trip's mutable fields (state, attempt, legs, failure, updatedAtMs). Resolves false when absent or not in `fromStates`. */
  saveTrip(trip: TripRecord, opts?: SaveTripOptions): Promise<boolean>
  getTrip(tripId: string): Promise<TripRecord | null>
  /** Trips in any of `states`, oldest first. */
  listTrips(states: readonly TripState[]): Promise<TripRecord[]>
  /** The `limit` most recent trips of `vehicleId` (by `createdAtMs`, then id), newest first, whatever their state. */
  listVehicleTrips(vehicleId: string, limit: number): Promise<TripRecord[]>

  /** Enqueue releases (an existing releaseId is left as it is). */
  addReleases(tasks: readonly ReleaseTask[]): Promise<void>
  /** Every queued release, soonest `nextAtMs` first. */
  listReleases(): Promise<ReleaseTask[]>
  /** Reschedule one release after a failed attempt. */
  rescheduleRelease(releaseId: string, attempts: number, nextAtMs: number): Promise<void>
  /** Remove a release (done, or pointless). */
  deleteRelease(releaseId: string): Promise<void>

  /**
   * Record a hold just placed for a peer, as `placed`, if the id is not in
   * the ledger yet. Resolves null when recorded; otherwise the entry that was
   * there (a tombstone written by a release that overtook the placement, or
   * another peer's id), changing nothing: the caller must release the hold
   * it placed.
   */
  recordPeerHold(input: RecordPeerHoldInput): Promise<PeerHoldRecord | null>
  /** Record that the reservation made from a hold was cancelled: the entry becomes `released`, so no later confirm re-books it. */
  peerHoldCancelled(input: { holdId: string; nowMs: number }): Promise<void>
  /**
   * Record a confirmation: `placed` (or already `confirmed`) becomes
   * `confirmed`. Resolves false, changing nothing, for any other state (a
   * release won the race: the caller must cancel the reservation it made).
   */
  peerHoldConfirmed(input: { holdId: string; reservationId: string; nowMs: number }): Promise<boolean>
  /**
   * A peer releases a hold: a `placed` entry of that peer becomes
   * `released`; an unknown id gets a `released` tombstone owned by the peer
   * (so a placement still running for it will not be recorded).
   * Resolves the entry as it was before (null when it was unknown), or
   * `foreign` when another peer owns the id (nothing changes).
   */
  releasePeerHold(input: { holdId: string; peerHubId: string; nowMs: number }): Promise<PeerHoldRecord | null | 'foreign'>
  getPeerHold(holdId: string): Promise<PeerHoldRecord | null>
  /**
   * How many live ledger entries `vehicleId` has from `peerHubId` (every
   * peer when undefined; rule: isLivePeerHold, ./peer-hold-rules.ts):
   * `placed` ones not expired at `nowMs`, `confirmed` ones with `atMs >= fromMs`.
   */
  countPeerVehicleHolds(q: { peerHubId?: string; vehicleId: string; fromMs: number; nowMs: number }): Promise<number>
  /**
   * Housekeeping: delete ledger entries last changed before `cutoffMs`,
   * except confirmed ones, which stay while their slot (`atMs`) is not older
   * than `cutoffMs` (a peer may still cancel the reservation).
   */
  deletePeerHoldsOlderThan(cutoffMs: number): Promise<number>
}
