/**
 * ReservationStore on SQLite. Booking runs in `BEGIN IMMEDIATE`: the write
 * lock is taken before the conflict check, so any other connection, in this
 * process or another, that wants to book waits (busy_timeout) until this one
 * has checked and inserted. That, not process memory, is what rules out
 * double bookings.
 *
 * `findBookings` (the read behind `station.nearest`) answers from a
 * BookingIndex (../booking-index.ts) of the stations asked about, loaded from
 * the database on first use, updated with this store's own writes, and
 * dropped whenever another connection (another process on the file, or
 * another handle in this one) committed, by the connection's one coherence
 * rule (./connection-indexes.ts, which also says when `PRAGMA data_version`
 * is asked).
 *
 * The check inside a booking's transaction asks the same index: once
 * `BEGIN IMMEDIATE` holds the write lock nobody else can commit, so an index
 * whose `data_version` is still the one it was built at holds exactly what
 * the database holds. A booking enters the index the moment its INSERT
 * succeeds, so the next check of the same group commit sees it as the SQL
 * would; a group commit that fails as a whole empties the index.
 *
 * Reservations and the holds of trips (placeHold, confirmHold) go through the
 * connection's group commit (./write-batcher.ts) with the federation's other
 * small writes: each check-and-insert is its own savepoint inside one
 * `BEGIN IMMEDIATE` transaction, so it is as atomic as alone (the lock is
 * held from before the first check to the COMMIT) and only the commit is
 * shared.
 */
import type { Database, Statement, Transaction } from 'better-sqlite3'
import { candidateIds, compareBookings, firstFree } from '../booking.js'
import { atLimit, confirmDecision, newHold, newReservation } from '../booking-rules.js'
import { BookingIndex } from '../booking-index.js'
import { VehicleBookingIndex, type VehicleBookingEntry } from '../vehicle-booking-index.js'
import type {
  Booking,
  BookingCandidate,
  BookingOutcome,
  BookingQuery,
  ConfirmHoldOutcome,
  CreateReservationInput,
  HoldRecord,
  PlaceHoldInput,
  ReservationCounts,
  ReservationRecord,
  ReservationStore,
} from '../types.js'
import { run } from './errors.js'
import type { ConnectionIndexes } from './connection-indexes.js'
import { WriteBatcher, type WriteOptions } from './write-batcher.js'
import { toBooking, toHold, toReservation, type BookingRow, type HoldRow, type ReservationRow } from '../sql-rows.js'

/** IN lists are padded to one of these sizes so a handful of prepared statements serve any list. */
const IN_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256] as const
const MAX_IN = 256

function bookingsSql(n: number): string {
  const list = Array.from({ length: n }, () => '?').join(',')
  return `
    SELECT 'reservation' AS kind, reservation_id AS id, station_id, vehicle_id, at_ms,
           NULL AS expires_at_ms, NULL AS tx_id, NULL AS tx_started_at_ms
      FROM reservations
     WHERE station_id IN (${list})
       AND at_ms > ? AND at_ms < ?                        -- rule: withinWindow (booking-rules.ts)
    UNION ALL
    SELECT 'hold' AS kind, hold_id AS id, station_id, vehicle_id, at_ms,
           expires_at_ms, tx_id, tx_started_at_ms
      FROM holds
     WHERE station_id IN (${list})
       AND at_ms > ? AND at_ms < ?                        -- rule: withinWindow (booking-rules.ts)
       AND reservation_id IS NULL AND expires_at_ms > ?   -- rule: isLiveHold (booking-rules.ts)`
}

/** One station's bookings newer than a floor, for BookingIndex.load: reservations, and holds not confirmed (a confirmed hold blocks through its reservation). */
const STATION_BOOKINGS_SQL = `
    SELECT 'reservation' AS kind, reservation_id AS id, station_id, vehicle_id, at_ms,
           NULL AS expires_at_ms, NULL AS tx_id, NULL AS tx_started_at_ms
      FROM reservations WHERE station_id = ? AND at_ms > ?
    UNION ALL
    SELECT 'hold' AS kind, hold_id AS id, station_id, vehicle_id, at_ms, expires_at_ms, tx_id, tx_started_at_ms
      FROM holds WHERE station_id = ? AND at_ms > ? AND reservation_id IS NULL`

export interface SqliteReservationStoreOptions {
  /** Answer findBookings from an in-memory BookingIndex (default true); false: one query per call. */
  bookingIndex?: boolean
}

/** A booking's check reads, then its one INSERT writes: no savepoint of its own needed (WriteOptions.single). */
const CHECK_THEN_INSERT: WriteOptions = { single: true }
/** Confirming a hold inserts its reservation and marks the hold: two writes, one savepoint. */
const WITH_SAVEPOINT: WriteOptions = {}

export class SqliteReservationStore implements ReservationStore {
  /** The limit is counted inside the booking's BEGIN IMMEDIATE transaction: exact across processes. */
  readonly limitsInBooking = true
  readonly #index: BookingIndex | null
  /** Each vehicle's live bookings, for the per-vehicle limit (null with the booking index off). */
  readonly #vehicles: VehicleBookingIndex | null
  /** The connection's indexes (these two and the peer-hold ledger's), kept coherent together. */
  readonly #indexes: ConnectionIndexes
  readonly #stationBookings: Statement<[string, number, string, number], BookingRow>
  readonly #batcher: WriteBatcher
  readonly #db: Database
  readonly #guard: () => void
  /** #pick's scratch list of what blocks one candidate (reused: one booking check runs at a time). */
  readonly #found: Booking[] = []
  readonly #bookingStmts = new Map<number, Statement<unknown[], BookingRow>>()
  readonly #s: {
    insertReservation: Statement<unknown[]>
    insertHold: Statement<unknown[]>
    getReservation: Statement<[string], ReservationRow>
    getHold: Statement<[string], HoldRow>
    markHoldConfirmed: Statement<[string, string]>
    releaseHold: Statement<[string]>
    cancel: Statement<[string, string]>
    cancelVehicle: Statement<[string, number, number | null, number | null]>
    listVehicle: Statement<[string, number], ReservationRow>
    countVehicle: Statement<[string, number, string, number], { n: number }>
    vehicleEntries: Statement<[string, number, string, number], VehicleBookingEntry>
    countPeerVehicle: Statement<[string, number, number], { n: number }>
    deleteExpired: Statement<[number]>
    countReservations: Statement<[], { n: number }>
    countHolds: Statement<[number], { n: number }>
  }
  readonly #countsTx: Transaction<(nowMs: number) => ReservationCounts>
  /** A write through the connection's group commit (./write-batcher.ts). */
  readonly #write: <T>(work: () => T, o?: WriteOptions) => Promise<T>

  constructor(db: Database, guard: () => void, opts: SqliteReservationStoreOptions = {}) {
    this.#db = db
    this.#guard = guard
    this.#batcher = WriteBatcher.for(db)
    this.#write = this.#batcher.writer(guard)
    this.#index = opts.bookingIndex === false ? null : new BookingIndex()
    this.#vehicles = opts.bookingIndex === false ? null : new VehicleBookingIndex()
    this.#indexes = this.#batcher.indexes
    this.#indexes.register(() => {
      this.#index?.clear()
      this.#vehicles?.clear()
    })
    this.#stationBookings = db.prepare<[string, number, string, number], BookingRow>(STATION_BOOKINGS_SQL)
    this.#s = {
      insertReservation: db.prepare(
        `INSERT INTO reservations (reservation_id, station_id, vehicle_id, lat, lon, at_ms, created_at_ms, hold_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertHold: db.prepare(
        `INSERT INTO holds (hold_id, station_id, vehicle_id, lat, lon, at_ms, expires_at_ms, tx_id, tx_started_at_ms, created_at_ms, reservation_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
      ),
      getReservation: db.prepare<[string], ReservationRow>('SELECT * FROM reservations WHERE reservation_id = ?'),
      getHold: db.prepare<[string], HoldRow>('SELECT * FROM holds WHERE hold_id = ?'),
      markHoldConfirmed: db.prepare<[string, string]>('UPDATE holds SET reservation_id = ? WHERE hold_id = ?'),
      releaseHold: db.prepare<[string]>('DELETE FROM holds WHERE hold_id = ? AND reservation_id IS NULL'),
      cancel: db.prepare<[string, string]>('DELETE FROM reservations WHERE reservation_id = ? AND vehicle_id = ?'),
      cancelVehicle: db.prepare<[string, number, number | null, number | null]>(
        `DELETE FROM reservations WHERE vehicle_id = ?
           AND at_ms >= ? AND (? IS NULL OR created_at_ms <= ?)  -- rule: isCancelledWithAll (booking-rules.ts)`,
      ),
      listVehicle: db.prepare<[string, number], ReservationRow>(
        'SELECT * FROM reservations WHERE vehicle_id = ? AND at_ms >= ? ORDER BY at_ms, reservation_id',
      ),
      countVehicle: db.prepare<[string, number, string, number], { n: number }>(
        `SELECT (SELECT COUNT(*) FROM reservations WHERE vehicle_id = ? AND at_ms >= ?)              -- rule: isLiveVehicleBooking (booking-rules.ts)
              + (SELECT COUNT(*) FROM holds WHERE vehicle_id = ? AND reservation_id IS NULL AND expires_at_ms > ?) AS n`,
      ),
      // What VehicleBookingIndex keeps of a vehicle above its floor: reservations by `at`, unconfirmed holds by expiry.
      vehicleEntries: db.prepare<[string, number, string, number], VehicleBookingEntry>(
        `SELECT reservation_id AS id, 'reservation' AS kind, at_ms AS t FROM reservations WHERE vehicle_id = ? AND at_ms >= ?
         UNION ALL
         SELECT hold_id, 'hold', expires_at_ms FROM holds WHERE vehicle_id = ? AND reservation_id IS NULL AND expires_at_ms > ?`,
      ),
      // The live peer-ledger entries of a vehicle id (rule: isLivePeerHold, peer-hold-rules.ts): bookings peers made for a
      // vehicle of theirs with that id, which a vehicle of this hub does not count (the ledger is TripStore's table).
      countPeerVehicle: db.prepare<[string, number, number], { n: number }>(
        `SELECT COUNT(*) AS n FROM peer_holds
          WHERE vehicle_id = ? AND ((state = 'placed' AND expires_at_ms > ?) OR (state = 'confirmed' AND at_ms >= ?))`,
      ),
      // rule: isExpiredHold (booking-rules.ts)
      deleteExpired: db.prepare<[number]>('DELETE FROM holds WHERE reservation_id IS NULL AND expires_at_ms <= ?'),
      countReservations: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM reservations'),
      // rule: isLiveHold (booking-rules.ts)
      countHolds: db.prepare<[number], { n: number }>(
        'SELECT COUNT(*) AS n FROM holds WHERE reservation_id IS NULL AND expires_at_ms > ?',
      ),
    }
    // One read transaction, so both numbers come from the same snapshot.
    this.#countsTx = db.transaction((nowMs: number) => ({
      reservations: this.#s.countReservations.get()?.n ?? 0,
      activeHolds: this.#s.countHolds.get(nowMs)?.n ?? 0,
    }))
  }

  createReservation(input: CreateReservationInput): Promise<BookingOutcome<ReservationRecord>> {
    // Through the connection's group commit: the check and the insert run in one savepoint of a
    // BEGIN IMMEDIATE transaction that also carries the turn's request-id claims and answers, so
    // the write lock still covers check and insert, and one commit serves them all.
    return this.#booking((): BookingOutcome<ReservationRecord> => {
      const o = this.createReservationInWrite(input)
      if (o.ok) this.indexReservation(o.record)
      return o
    })
  }

  /** createReservation's check and insert, inside a write of this connection (bookingWrite), without the booking index (see placeHoldInWrite). */
  createReservationInWrite(input: CreateReservationInput): BookingOutcome<ReservationRecord> {
    const pick = this.#pick(input)
    if ('ok' in pick) return pick
    const record = newReservation(input, pick)
    this.#insertReservation(record)
    return { ok: true, record }
  }

  /** A reservation createReservationInWrite booked, into the booking indexes: the last step of its write. */
  indexReservation(record: ReservationRecord): void {
    this.#index?.add(reservationBooking(record))
    this.#vehicles?.add(reservationBooking(record))
  }

  placeHold(input: PlaceHoldInput): Promise<BookingOutcome<HoldRecord>> {
    return this.#booking(() => {
      const o = this.placeHoldInWrite(input)
      if (o.ok) this.indexHold(o.record)
      return o
    })
  }

  confirmHold(input: { holdId: string; reservationId: string; nowMs: number }): Promise<ConfirmHoldOutcome> {
    return this.#booking(() => {
      const o = this.confirmHoldInWrite(input)
      this.indexConfirmed(input.holdId, o)
      return o
    }, WITH_SAVEPOINT)
  }

  /**
   * Run `work` as a booking write of this connection's group commit (./write-batcher.ts, in a
   * savepoint of its own): for a write that books with createReservationInWrite, placeHoldInWrite
   * or confirmHoldInWrite and writes other tables in the same unit (./keyed-write.ts). A failing write empties
   * the booking indexes, as a failing booking does.
   */
  bookingWrite<T>(work: () => T): Promise<T> {
    return this.#booking(work, WITH_SAVEPOINT)
  }

  /**
   * placeHold's check and insert, inside a write of this connection (bookingWrite), without the
   * booking index: a write that books calls indexHold after its last statement, so a statement
   * of the same write that fails (its savepoint rolled back) leaves nothing in the index for the
   * rest of the group commit to see.
   */
  placeHoldInWrite(input: PlaceHoldInput): BookingOutcome<HoldRecord> {
    const pick = this.#pick(input)
    if ('ok' in pick) return pick
    const record = newHold(input, pick)
    this.#s.insertHold.run(
      record.holdId,
      record.stationId,
      record.vehicleId,
      record.position.lat,
      record.position.lon,
      record.atMs,
      record.expiresAtMs,
      record.txId,
      record.txStartedAtMs,
      record.createdAtMs,
    )
    return { ok: true, record }
  }

  /** A hold placeHoldInWrite booked, into the booking indexes: the last step of its write. */
  indexHold(record: HoldRecord): void {
    this.#index?.add(holdBooking(record))
    this.#vehicles?.add(holdBooking(record))
  }

  /** confirmHold's work, inside a write of this connection (bookingWrite), without the booking index (see placeHoldInWrite). */
  confirmHoldInWrite(input: { holdId: string; reservationId: string; nowMs: number }): ConfirmHoldOutcome {
    return this.#confirmTx(input)
  }

  /** What confirmHoldInWrite did, into the booking indexes: the last step of its write. */
  indexConfirmed(holdId: string, o: ConfirmHoldOutcome): void {
    if (o.status !== 'confirmed' || this.#index === null) return
    // The hold now blocks as its reservation (a repeated confirm finds the same pair).
    this.#index.remove(holdId)
    this.#index.remove(o.reservation.reservationId)
    this.#index.add(reservationBooking(o.reservation))
    this.#vehicles?.remove(holdId)
    this.#vehicles?.remove(o.reservation.reservationId)
    this.#vehicles?.add(reservationBooking(o.reservation))
  }

  releaseHold(holdId: string): Promise<boolean> {
    return run(() => {
      this.#guard()
      return this.#indexed(this.#s.releaseHold.run(holdId).changes > 0, (gone) => gone && this.#unindex(holdId))
    })
  }

  getHold(holdId: string): Promise<HoldRecord | null> {
    return run(() => {
      this.#guard()
      const row = this.#s.getHold.get(holdId)
      return row ? toHold(row) : null
    })
  }

  getReservation(reservationId: string): Promise<ReservationRecord | null> {
    return run(() => {
      this.#guard()
      const row = this.#s.getReservation.get(reservationId)
      return row ? toReservation(row) : null
    })
  }

  cancelReservation(reservationId: string, vehicleId: string): Promise<boolean> {
    return run(() => {
      this.#guard()
      return this.#indexed(this.#s.cancel.run(reservationId, vehicleId).changes > 0, (gone) => gone && this.#unindex(reservationId))
    })
  }

  cancelVehicleReservations(vehicleId: string, fromMs: number, createdUpToMs?: number): Promise<number> {
    return run(() => {
      this.#guard()
      const upTo = createdUpToMs ?? null
      return this.#indexed(this.#s.cancelVehicle.run(vehicleId, fromMs, upTo, upTo).changes, (n) => n > 0 && this.#indexes.clear())
    })
  }

  listVehicleReservations(vehicleId: string, fromMs: number): Promise<ReservationRecord[]> {
    return run(() => {
      this.#guard()
      return this.#s.listVehicle.all(vehicleId, fromMs).map(toReservation)
    })
  }

  countVehicleBookings(q: { vehicleId: string; fromMs: number; nowMs: number }): Promise<number> {
    return run(() => {
      this.#guard()
      return this.#liveOf(q.vehicleId, q.fromMs, q.nowMs)
    })
  }

  findBookings(query: BookingQuery): Promise<Booking[]> {
    return run(() => {
      this.#guard()
      return this.#blockingSync(query)
    })
  }

  /** A booking's check inside its write: refused at the vehicle's limit, else the first free candidate, else refused with what blocks them all. */
  #pick(input: CreateReservationInput | PlaceHoldInput): BookingCandidate | { ok: false; conflicts: Booking[]; overLimit?: number } {
    const overLimit = this.#overLimit(input)
    if (overLimit !== null) return { ok: false, conflicts: [], overLimit }
    const receivedAt = this.#batcher.flushStartedAt
    const index = this.#index
    const q = { atMs: input.atMs, windowMs: input.windowMs, nowMs: input.nowMs }
    // From the index, nearest first, up to the first free candidate: most bookings look at one station, not at
    // every candidate's (firstFree's answer, which the refusal below still takes, with what blocks them all).
    if (index !== null && index.covers(q)) {
      this.#indexes.dropIfOthersWrote(receivedAt)
      const found = this.#found
      for (const c of input.candidates) {
        this.#loaded(index, c.stationId)
        found.length = 0
        index.blocking(c.stationId, q, found)
        if (found.length === 0) return c
      }
    }
    const blocking = this.#blockingSync({ ...q, stationIds: candidateIds(input.candidates), receivedAt })
    return firstFree(input.candidates, blocking) ?? { ok: false, conflicts: blocking }
  }

  /** `stationId`'s bookings in `index`, loaded from the database first if it has none yet. */
  #loaded(index: BookingIndex, stationId: string): void {
    if (index.has(stationId)) return
    const floor = index.floorMs
    index.load(stationId, this.#stationBookings.all(stationId, floor, stationId, floor).map(toBooking))
  }

  /** Inside a booking's transaction: the vehicle's live bookings when it is at `input.limit`, else null. */
  #overLimit(input: CreateReservationInput | PlaceHoldInput): number | null {
    if (input.limit === undefined) return null
    const { vehicleId, nowMs } = input
    const { fromMs, max } = input.limit
    const all = this.#liveOf(vehicleId, fromMs, nowMs, this.#batcher.flushStartedAt)
    if (!atLimit(all, max)) return null
    // Only at the limit is it worth asking which of them peers made (the count can only go down).
    const live = Math.max(0, all - (this.#s.countPeerVehicle.get(vehicleId, nowMs, fromMs)?.n ?? 0))
    return atLimit(live, max) ? live : null
  }

  /** `vehicleId`'s live bookings (isLiveVehicleBooking): from the vehicle index when it covers the question and nobody else wrote, else from SQL. */
  #liveOf(vehicleId: string, fromMs: number, nowMs: number, receivedAt?: number): number {
    const v = this.#vehicles
    if (v === null || !v.covers({ fromMs, nowMs })) return this.#s.countVehicle.get(vehicleId, fromMs, vehicleId, nowMs)?.n ?? 0
    this.#indexes.dropIfOthersWrote(receivedAt)
    if (!v.has(vehicleId)) v.load(vehicleId, this.#s.vehicleEntries.all(vehicleId, v.floorMs, vehicleId, v.floorMs))
    return v.count(vehicleId, { fromMs, nowMs })
  }

  /** A booking gone from the database (released, cancelled): out of both indexes. */
  #unindex(id: string): void {
    this.#index?.remove(id)
    this.#vehicles?.remove(id)
  }

  /** The bookings that block `query`: from the index when it covers the query and nobody else wrote, else from SQL. */
  #blockingSync(query: BookingQuery): Booking[] {
    const index = this.#index
    if (index === null || !index.covers(query)) return this.#findSync(query)
    this.#indexes.dropIfOthersWrote(query.receivedAt)
    const out: Booking[] = []
    const ids = new Set(query.stationIds)
    for (const id of ids) {
      this.#loaded(index, id)
      index.blocking(id, query, out)
    }
    return out.sort(compareBookings)
  }

  /**
   * A booking write through the group commit (one statement that writes unless `o` says otherwise).
   * Its work updates the indexes itself, after its last statement, so a write that fails leaves them
   * as the database is; should its group commit fail as a whole, the batcher empties them and they
   * reload from the database (./write-batcher.ts).
   */
  #booking<T>(work: () => T, o: WriteOptions = CHECK_THEN_INSERT): Promise<T> {
    return this.#write(work, o)
  }

  deleteExpiredHolds(nowMs: number): Promise<number> {
    return run(() => {
      this.#guard()
      return this.#indexed(this.#s.deleteExpired.run(nowMs).changes, (n) => n > 0 && (this.#index?.removeExpired(nowMs), this.#vehicles?.removeExpired(nowMs)))
    })
  }

  counts(nowMs: number): Promise<ReservationCounts> {
    return run(() => {
      this.#guard()
      return this.#countsTx(nowMs)
    })
  }

  /** `result` of a committed write, after `apply` brought the index up to date with it. */
  #indexed<T>(result: T, apply: (r: T) => unknown): T {
    if (this.#index !== null) apply(result)
    return result
  }

  #insertReservation(r: ReservationRecord): void {
    this.#s.insertReservation.run(r.reservationId, r.stationId, r.vehicleId, r.position.lat, r.position.lon, r.atMs, r.createdAtMs, r.holdId)
  }

  #confirmTx(input: { holdId: string; reservationId: string; nowMs: number }): ConfirmHoldOutcome {
    const row = this.#s.getHold.get(input.holdId)
    const decision = confirmDecision(row ? toHold(row) : null, input, (id) => {
      const r = this.#s.getReservation.get(id)
      return r ? toReservation(r) : null
    })
    if (decision.insert) {
      this.#insertReservation(decision.insert)
      this.#s.markHoldConfirmed.run(decision.insert.reservationId, input.holdId)
    }
    return decision.outcome
  }

  #findSync(q: BookingQuery): Booking[] {
    const ids = [...new Set(q.stationIds)]
    if (ids.length === 0) return []
    // withinWindow as an open interval, so the (station_id, at_ms) index answers it.
    const lo = q.atMs - q.windowMs
    const hi = q.atMs + q.windowMs
    const out: Booking[] = []
    for (let i = 0; i < ids.length; i += MAX_IN) {
      const chunk = ids.slice(i, i + MAX_IN)
      const size = IN_SIZES.find((s) => s >= chunk.length) ?? MAX_IN
      const last = chunk[chunk.length - 1] as string
      while (chunk.length < size) chunk.push(last)
      for (const row of this.#bookingStmt(size).all(...chunk, lo, hi, ...chunk, lo, hi, q.nowMs)) out.push(toBooking(row))
    }
    return out.sort(compareBookings)
  }

  #bookingStmt(size: number): Statement<unknown[], BookingRow> {
    let stmt = this.#bookingStmts.get(size)
    if (!stmt) {
      stmt = this.#db.prepare<unknown[], BookingRow>(bookingsSql(size))
      this.#bookingStmts.set(size, stmt)
    }
    return stmt
  }
}

function reservationBooking(r: ReservationRecord): Booking {
  return { kind: 'reservation', id: r.reservationId, stationId: r.stationId, vehicleId: r.vehicleId, atMs: r.atMs }
}

function holdBooking(h: HoldRecord): Booking {
  return { kind: 'hold', id: h.holdId, stationId: h.stationId, vehicleId: h.vehicleId, atMs: h.atMs, expiresAtMs: h.expiresAtMs, txId: h.txId, txStartedAtMs: h.txStartedAtMs }
}
