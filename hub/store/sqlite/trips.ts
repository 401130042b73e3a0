/**
 * TripStore on SQLite. A trip is one row (its legs as a JSON column: they are
 * always read and written with the trip); releases and the peer-hold ledger
 * have their own tables. Every write is one atomic unit (a savepoint) inside
 * a BEGIN IMMEDIATE transaction that the connection's WriteBatcher shares
 * among the writes of one event-loop turn.
 *
 * The limit of a peer's vehicle (countPeerVehicleHolds with a peer, inside
 * every peer hold's write: ./peer-hold-writes.ts) is counted from an
 * in-memory VehicleBookingIndex of the ledger per (peer, vehicle), as a
 * vehicle of this hub is counted (./reservations.ts): by SQL it read every
 * live entry of that vehicle, so a fleet account roaming here paid for all of
 * them on each new hold. Each ledger write puts its entry in the index
 * (peerHoldCountEntry) as its last step (indexLedger), as the booking writes
 * do with theirs: a write whose statement failed left the index untouched.
 * The connection's coherence rule (./connection-indexes.ts) empties it when
 * another connection committed or a group commit failed as a whole.
 */
import type { Database, Statement } from 'better-sqlite3'
import type {
  PeerHoldRecord,
  RecordPeerHoldInput,
  ReleaseTask,
  SaveTripOptions,
  TripRecord,
  TripState,
  TripStore,
} from '../trips.js'
import { peerHoldCountEntry, recordCancelled, recordConfirmed, recordPlaced, recordReleased, type PeerHoldStep } from '../peer-hold-rules.js'
import { VehicleBookingIndex, type VehicleBookingEntry } from '../vehicle-booking-index.js'
import type { ConnectionIndexes } from './connection-indexes.js'
import { run } from './errors.js'
import { WriteBatcher, type WriteOptions } from './write-batcher.js'
import { toPeerHold, toRelease, toTrip, type PeerHoldRow, type ReleaseRow, type TripRow } from '../sql-rows.js'

export class SqliteTripStore implements TripStore {
  readonly #db: Database
  readonly #guard: () => void
  readonly #s: {
    insertTrip: Statement<[TripParams]>
    updateTrip: Statement<[TripParams]>
    getTrip: Statement<[string], TripRow>
    vehicleTrips: Statement<[string, number], TripRow>
    insertRelease: Statement<unknown[]>
    listReleases: Statement<[], ReleaseRow>
    reschedule: Statement<[number, number, string]>
    deleteRelease: Statement<[string]>
    getPeerHold: Statement<[string], PeerHoldRow>
    countPeerVehicle: Statement<[string, string | null, string | null, number, number], { n: number }>
    ledgerEntries: Statement<[string, string, number, number], VehicleBookingEntry>
    savePeerHold: Statement<unknown[]>
    deletePeerHolds: Statement<[number, number, number]>
  }
  /** A write through the connection's group commit (see WriteBatcher). */
  readonly #write: <T>(work: () => T, o?: WriteOptions) => Promise<T>
  readonly #batcher: WriteBatcher
  /** The ledger's live entries per (peer, vehicle) (module doc; null with the booking index off). */
  readonly #ledger: VehicleBookingIndex | null
  readonly #indexes: ConnectionIndexes
  /** `listTrips` by the number of states asked for (at most the seven states there are). */
  readonly #listTripsStmts = new Map<number, Statement<string[], TripRow>>()

  /** `bookingIndex` false: the peer vehicle's limit is counted by SQL on every hold (as the reservation store's option). */
  constructor(db: Database, guard: () => void, opts: { bookingIndex?: boolean } = {}) {
    this.#db = db
    this.#guard = guard
    this.#batcher = WriteBatcher.for(db)
    this.#write = this.#batcher.writer(guard)
    const ledger = opts.bookingIndex === false ? null : new VehicleBookingIndex()
    this.#ledger = ledger
    this.#indexes = this.#batcher.indexes
    if (ledger) this.#indexes.register(() => ledger.clear())
    this.#s = {
      insertTrip: db.prepare(
        `INSERT INTO trips (trip_id, vehicle_id, route_id, tx_started_at_ms, attempt, state, legs_json, failure_json, created_at_ms, updated_at_ms)
         VALUES (@tripId, @vehicleId, @routeId, @txStartedAtMs, @attempt, @state, @legsJson, @failureJson, @createdAtMs, @updatedAtMs)`,
      ),
      updateTrip: db.prepare(
        `UPDATE trips SET tx_started_at_ms = @txStartedAtMs, attempt = @attempt, state = @state, legs_json = @legsJson,
           failure_json = @failureJson, updated_at_ms = @updatedAtMs WHERE trip_id = @tripId`,
      ),
      getTrip: db.prepare<[string], TripRow>('SELECT * FROM trips WHERE trip_id = ?'),
      vehicleTrips: db.prepare<[string, number], TripRow>('SELECT * FROM trips WHERE vehicle_id = ? ORDER BY created_at_ms DESC, trip_id DESC LIMIT ?'),
      insertRelease: db.prepare(
        `INSERT OR IGNORE INTO trip_releases (release_id, trip_id, hub_id, kind, target_id, vehicle_id, idempotency_key, until_ms, attempts, next_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      listReleases: db.prepare<[], ReleaseRow>('SELECT * FROM trip_releases ORDER BY next_at_ms, release_id'),
      reschedule: db.prepare<[number, number, string]>('UPDATE trip_releases SET attempts = ?, next_at_ms = ? WHERE release_id = ?'),
      deleteRelease: db.prepare<[string]>('DELETE FROM trip_releases WHERE release_id = ?'),
      getPeerHold: db.prepare<[string], PeerHoldRow>('SELECT * FROM peer_holds WHERE hold_id = ?'),
      // rule: isLivePeerHold (peer-hold-rules.ts)
      countPeerVehicle: db.prepare<[string, string | null, string | null, number, number], { n: number }>(
        `SELECT COUNT(*) AS n FROM peer_holds
          WHERE vehicle_id = ? AND (? IS NULL OR peer_hub_id = ?)
            AND ((state = 'placed' AND expires_at_ms > ?) OR (state = 'confirmed' AND at_ms >= ?))`,
      ),
      // What the ledger's index keeps of a (vehicle, peer) above its floor (peerHoldCountEntry; rule: isLivePeerHold).
      ledgerEntries: db.prepare<[string, string, number, number], VehicleBookingEntry>(
        `SELECT hold_id AS id, CASE state WHEN 'confirmed' THEN 'reservation' ELSE 'hold' END AS kind,
                CASE state WHEN 'confirmed' THEN at_ms ELSE expires_at_ms END AS t
           FROM peer_holds
          WHERE vehicle_id = ? AND peer_hub_id = ?
            AND ((state = 'placed' AND expires_at_ms > ?) OR (state = 'confirmed' AND at_ms >= ?))`,
      ),
      savePeerHold: db.prepare(
        `INSERT INTO peer_holds (hold_id, peer_hub_id, state, tx_id, vehicle_id, station_id, lat, lon, at_ms, expires_at_ms, reservation_id, created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (hold_id) DO UPDATE SET
           peer_hub_id = excluded.peer_hub_id, state = excluded.state, tx_id = excluded.tx_id, vehicle_id = excluded.vehicle_id,
           station_id = excluded.station_id, lat = excluded.lat, lon = excluded.lon, at_ms = excluded.at_ms,
           expires_at_ms = excluded.expires_at_ms, reservation_id = excluded.reservation_id,
           created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms`,
      ),
      // rule: isStalePeerHold (peer-hold-rules.ts), as one DELETE for housekeeping
      deletePeerHolds: db.prepare<[number, number, number]>(
        `DELETE FROM peer_holds
          WHERE (state <> 'confirmed' AND updated_at_ms < ?)
             OR (state = 'confirmed' AND COALESCE(at_ms, 0) < ? AND updated_at_ms < ?)`,
      ),
    }
  }

  createTrip(trip: TripRecord): Promise<void> {
    return this.#write(() => this.createTripInWrite(trip), { single: true })
  }

  /** createTrip's work, inside a write of this connection (./trip-writes.ts). One statement. */
  createTripInWrite(trip: TripRecord): void {
    this.#s.insertTrip.run(tripParams(trip))
  }

  saveTrip(trip: TripRecord, opts: SaveTripOptions = {}): Promise<boolean> {
    // Without releases the update is the one statement that writes: no savepoint of its own (WriteOptions.single).
    return this.#write(() => this.saveTripInWrite(trip, opts), { single: (opts.releases ?? []).length === 0 })
  }

  /** saveTrip's work (the compare-and-set, the update, the releases), inside a write of this connection (./trip-writes.ts). */
  saveTripInWrite(trip: TripRecord, opts: SaveTripOptions): boolean {
    const cur = this.#s.getTrip.get(trip.tripId)
    if (!cur) return false
    if (opts.fromStates && !opts.fromStates.includes(cur.state)) return false
    this.#s.updateTrip.run(tripParams(trip))
    for (const r of opts.releases ?? []) this.#insertRelease(r)
    return true
  }

  getTrip(tripId: string): Promise<TripRecord | null> {
    return run(() => {
      this.#guard()
      const row = this.#s.getTrip.get(tripId)
      return row ? toTrip(row) : null
    })
  }

  listTrips(states: readonly TripState[]): Promise<TripRecord[]> {
    return run(() => {
      this.#guard()
      if (states.length === 0) return []
      return this.#listTripsStmt(states.length).all(...states).map(toTrip)
    })
  }

  listVehicleTrips(vehicleId: string, limit: number): Promise<TripRecord[]> {
    return run(() => {
      this.#guard()
      return this.#s.vehicleTrips.all(vehicleId, limit).map(toTrip)
    })
  }

  addReleases(tasks: readonly ReleaseTask[]): Promise<void> {
    return this.#write(() => {
      for (const r of tasks) this.#insertRelease(r)
    })
  }

  listReleases(): Promise<ReleaseTask[]> {
    return run(() => {
      this.#guard()
      return this.#s.listReleases.all().map(toRelease)
    })
  }

  rescheduleRelease(releaseId: string, attempts: number, nextAtMs: number): Promise<void> {
    return this.#write(() => {
      this.#s.reschedule.run(attempts, nextAtMs, releaseId)
    })
  }

  deleteRelease(releaseId: string): Promise<void> {
    return this.#write(() => {
      this.#s.deleteRelease.run(releaseId)
    })
  }

  recordPeerHold(input: RecordPeerHoldInput): Promise<PeerHoldRecord | null> {
    return this.#write(() => this.#indexedStep(this.recordPeerHoldInWrite(input)))
  }

  /** recordPeerHold's work, inside a write of this connection (./peer-hold-writes.ts): the step written, which the write puts in the ledger's index last (indexLedger). */
  recordPeerHoldInWrite(input: RecordPeerHoldInput): PeerHoldStep<PeerHoldRecord | null> {
    return this.#step(recordPlaced(this.#peerHold(input.holdId), input))
  }

  /** peerHoldConfirmed's work, inside a write of this connection (./peer-hold-writes.ts): the step written, which the write puts in the ledger's index last (indexLedger). */
  peerHoldConfirmedInWrite(input: { holdId: string; reservationId: string; nowMs: number }): PeerHoldStep<boolean> {
    return this.#step(recordConfirmed(this.#peerHold(input.holdId), input.reservationId, input.nowMs))
  }

  /**
   * The ledger entry a write wrote (PeerHoldStep.next; null: none), into the ledger's index: the last
   * step of its write, so a statement of the write that failed (its savepoint rolled back) left the
   * index as the database is.
   */
  indexLedger(r: PeerHoldRecord | null): void {
    const ledger = this.#ledger
    if (r === null || ledger === null) return
    const e = r.vehicleId === null ? null : peerHoldCountEntry(r)
    if (e === null || r.vehicleId === null) ledger.remove(r.holdId)
    else ledger.put(ledgerKey(r.peerHubId, r.vehicleId), e)
  }

  /** countPeerVehicleHolds' count, inside a write (or read) of this connection (./peer-hold-writes.ts). */
  countPeerVehicleInWrite(q: { peerHubId?: string; vehicleId: string; fromMs: number; nowMs: number }): number {
    const ledger = this.#ledger
    if (q.peerHubId === undefined || ledger === null || !ledger.covers(q)) {
      const peer = q.peerHubId ?? null
      return this.#s.countPeerVehicle.get(q.vehicleId, peer, peer, q.nowMs, q.fromMs)?.n ?? 0
    }
    // Inside a write the batch's lock keeps others out from its start; outside, asked afresh.
    this.#indexes.dropIfOthersWrote(this.#db.inTransaction ? this.#batcher.flushStartedAt : undefined)
    const key = ledgerKey(q.peerHubId, q.vehicleId)
    if (!ledger.has(key)) ledger.load(key, this.#s.ledgerEntries.all(q.vehicleId, q.peerHubId, ledger.floorMs, ledger.floorMs))
    return ledger.count(key, q)
  }

  /** The ledger entry of `holdId`, read inside a write of this connection (./peer-hold-writes.ts). */
  peerHoldInWrite(holdId: string): PeerHoldRecord | null {
    return this.#peerHold(holdId)
  }

  peerHoldCancelled(input: { holdId: string; nowMs: number }): Promise<void> {
    return this.#write(() => this.#indexedStep(this.#step(recordCancelled(this.#peerHold(input.holdId), input.nowMs))))
  }

  peerHoldConfirmed(input: { holdId: string; reservationId: string; nowMs: number }): Promise<boolean> {
    return this.#write(() => this.#indexedStep(this.peerHoldConfirmedInWrite(input)))
  }

  releasePeerHold(input: { holdId: string; peerHubId: string; nowMs: number }): Promise<PeerHoldRecord | null | 'foreign'> {
    return this.#write(() => this.#indexedStep(this.#step(recordReleased(this.#peerHold(input.holdId), input))))
  }

  getPeerHold(holdId: string): Promise<PeerHoldRecord | null> {
    return run(() => {
      this.#guard()
      return this.#peerHold(holdId)
    })
  }

  countPeerVehicleHolds(q: { peerHubId?: string; vehicleId: string; fromMs: number; nowMs: number }): Promise<number> {
    return run(() => {
      this.#guard()
      return this.countPeerVehicleInWrite(q)
    })
  }

  deletePeerHoldsOlderThan(cutoffMs: number): Promise<number> {
    return run(() => {
      this.#guard()
      const n = this.#s.deletePeerHolds.run(cutoffMs, cutoffMs, cutoffMs).changes
      // Swept entries count no more; the index reloads what is left rather than look for them.
      if (n > 0) this.#ledger?.clear()
      return n
    })
  }

  #insertRelease(r: ReleaseTask): void {
    this.#s.insertRelease.run(r.releaseId, r.tripId, r.hubId, r.kind, r.targetId, r.vehicleId, r.idempotencyKey, r.untilMs, r.attempts, r.nextAtMs)
  }

  #listTripsStmt(n: number): Statement<string[], TripRow> {
    let stmt = this.#listTripsStmts.get(n)
    if (!stmt) {
      const list = Array.from({ length: n }, () => '?').join(',')
      stmt = this.#db.prepare<string[], TripRow>(`SELECT * FROM trips WHERE state IN (${list}) ORDER BY created_at_ms, trip_id`)
      this.#listTripsStmts.set(n, stmt)
    }
    return stmt
  }

  #peerHold(holdId: string): PeerHoldRecord | null {
    const row = this.#s.getPeerHold.get(holdId)
    return row ? toPeerHold(row) : null
  }

  /** Write the entry a ledger transition decided (inside the caller's write); the step, for its answer and for indexLedger. */
  #step<A>(step: PeerHoldStep<A>): PeerHoldStep<A> {
    const r = step.next
    if (r) {
      this.#s.savePeerHold.run(
        r.holdId, r.peerHubId, r.state, r.txId, r.vehicleId, r.stationId, r.position?.lat ?? null, r.position?.lon ?? null,
        r.atMs, r.expiresAtMs, r.reservationId, r.createdAtMs, r.updatedAtMs,
      )
    }
    return step
  }

  /** A ledger write of this store's own, written: its entry into the index (its last step), and its answer. */
  #indexedStep<A>(step: PeerHoldStep<A>): A {
    this.indexLedger(step.next)
    return step.answer
  }
}

/** The ledger index's key: the limit of a peer's vehicle is counted per (peer, vehicle). */
function ledgerKey(peerHubId: string, vehicleId: string): string {
  return `${peerHubId}\u0000${vehicleId}`
}

/** A trip as the named parameters of its INSERT and UPDATE. */
type TripParams = Omit<TripRecord, 'legs' | 'failure'> & { legsJson: string; failureJson: string | null }

function tripParams(trip: TripRecord): TripParams {
  const { legs, failure, ...rest } = trip
  return { ...rest, legsJson: JSON.stringify(legs), failureJson: failure === null ? null : JSON.stringify(failure) }
}
