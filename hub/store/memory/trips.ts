/** In-memory TripStore: each method is synchronous inside, hence atomic on the one JS thread. Records are copied in and out. */
import { StoreError } from '../errors.js'
import { isLivePeerHold, isStalePeerHold, recordCancelled, recordConfirmed, recordPlaced, recordReleased, type PeerHoldStep } from '../peer-hold-rules.js'
import type {
  PeerHoldRecord,
  RecordPeerHoldInput,
  ReleaseTask,
  SaveTripOptions,
  TripRecord,
  TripState,
  TripStore,
} from '../trips.js'

const copyTrip = (t: TripRecord): TripRecord => structuredClone(t)

export class MemoryTripStore implements TripStore {
  readonly #trips = new Map<string, TripRecord>()
  readonly #releases = new Map<string, ReleaseTask>()
  readonly #peerHolds = new Map<string, PeerHoldRecord>()
  readonly #guard: () => void

  constructor(guard: () => void) {
    this.#guard = guard
  }

  reset(): void {
    this.#trips.clear()
    this.#releases.clear()
    this.#peerHolds.clear()
  }

  async createTrip(trip: TripRecord): Promise<void> {
    this.#guard()
    if (this.#trips.has(trip.tripId)) throw new StoreError('DUPLICATE_ID', `trip ${trip.tripId} exists`)
    this.#trips.set(trip.tripId, copyTrip(trip))
  }

  async saveTrip(trip: TripRecord, opts: SaveTripOptions = {}): Promise<boolean> {
    this.#guard()
    const cur = this.#trips.get(trip.tripId)
    if (!cur) return false
    if (opts.fromStates && !opts.fromStates.includes(cur.state)) return false
    this.#trips.set(trip.tripId, { ...copyTrip(trip), vehicleId: cur.vehicleId, routeId: cur.routeId, createdAtMs: cur.createdAtMs })
    for (const r of opts.releases ?? []) if (!this.#releases.has(r.releaseId)) this.#releases.set(r.releaseId, { ...r })
    return true
  }

  async getTrip(tripId: string): Promise<TripRecord | null> {
    this.#guard()
    const t = this.#trips.get(tripId)
    return t ? copyTrip(t) : null
  }

  async listTrips(states: readonly TripState[]): Promise<TripRecord[]> {
    this.#guard()
    return [...this.#trips.values()]
      .filter((t) => states.includes(t.state))
      .sort((a, b) => a.createdAtMs - b.createdAtMs || (a.tripId < b.tripId ? -1 : 1))
      .map(copyTrip)
  }

  async listVehicleTrips(vehicleId: string, limit: number): Promise<TripRecord[]> {
    this.#guard()
    return [...this.#trips.values()]
      .filter((t) => t.vehicleId === vehicleId)
      .sort((a, b) => b.createdAtMs - a.createdAtMs || (a.tripId < b.tripId ? 1 : -1))
      .slice(0, limit)
      .map(copyTrip)
  }

  async addReleases(tasks: readonly ReleaseTask[]): Promise<void> {
    this.#guard()
    for (const r of tasks) if (!this.#releases.has(r.releaseId)) this.#releases.set(r.releaseId, { ...r })
  }

  async listReleases(): Promise<ReleaseTask[]> {
    this.#guard()
    return [...this.#releases.values()].sort((a, b) => a.nextAtMs - b.nextAtMs || (a.releaseId < b.releaseId ? -1 : 1)).map((r) => ({ ...r }))
  }

  async rescheduleRelease(releaseId: string, attempts: number, nextAtMs: number): Promise<void> {
    this.#guard()
    const r = this.#releases.get(releaseId)
    if (r) {
      r.attempts = attempts
      r.nextAtMs = nextAtMs
    }
  }

  async deleteRelease(releaseId: string): Promise<void> {
    this.#guard()
    this.#releases.delete(releaseId)
  }

  async recordPeerHold(input: RecordPeerHoldInput): Promise<PeerHoldRecord | null> {
    this.#guard()
    return this.#step(recordPlaced(this.#peerHold(input.holdId), input))
  }

  async peerHoldCancelled(input: { holdId: string; nowMs: number }): Promise<void> {
    this.#guard()
    this.#step(recordCancelled(this.#peerHold(input.holdId), input.nowMs))
  }

  async peerHoldConfirmed(input: { holdId: string; reservationId: string; nowMs: number }): Promise<boolean> {
    this.#guard()
    return this.#step(recordConfirmed(this.#peerHold(input.holdId), input.reservationId, input.nowMs))
  }

  async releasePeerHold(input: { holdId: string; peerHubId: string; nowMs: number }): Promise<PeerHoldRecord | null | 'foreign'> {
    this.#guard()
    return this.#step(recordReleased(this.#peerHold(input.holdId), input))
  }

  async countPeerVehicleHolds(q: { peerHubId?: string; vehicleId: string; fromMs: number; nowMs: number }): Promise<number> {
    this.#guard()
    let n = 0
    for (const e of this.#peerHolds.values()) {
      if (e.vehicleId === q.vehicleId && (q.peerHubId === undefined || e.peerHubId === q.peerHubId) && isLivePeerHold(e, q)) n++
    }
    return n
  }

  async getPeerHold(holdId: string): Promise<PeerHoldRecord | null> {
    this.#guard()
    return this.#peerHold(holdId)
  }

  async deletePeerHoldsOlderThan(cutoffMs: number): Promise<number> {
    this.#guard()
    let n = 0
    for (const [id, r] of [...this.#peerHolds]) {
      if (isStalePeerHold(r, cutoffMs)) {
        this.#peerHolds.delete(id)
        n++
      }
    }
    return n
  }

  /** A copy of the ledger entry, or null. */
  #peerHold(holdId: string): PeerHoldRecord | null {
    const cur = this.#peerHolds.get(holdId)
    return cur ? { ...cur } : null
  }

  #step<A>(step: PeerHoldStep<A>): A {
    if (step.next) this.#peerHolds.set(step.next.holdId, { ...step.next })
    return step.answer
  }
}
