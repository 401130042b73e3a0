/**
 * ReservationStore on PostgreSQL, for several hub replicas writing at once.
 *
 * The EXCLUDE constraint of `booking_slots` (./migrations.ts) keeps the
 * window rule: whatever a writer does, two bookings of one station closer
 * than the window are never both committed. A booking takes no lock of its
 * own. It reads the bookings of its candidate stations (one
 * snapshot), picks the first candidate free in it, and inserts the slot with
 * `ON CONFLICT DO NOTHING`: the insert waits only for an uncommitted slot of
 * that station that overlaps it, and when that one commits it inserts
 * nothing; then what blocks the station is read and the next free candidate
 * is tried. So the first candidate free when the booking commits is picked
 * and the blockers are reported, as on every store, and bookings wait on each
 * other only where their slots overlap (an advisory lock on every candidate
 * station used to serialize all bookings near one place, even at other times).
 *
 * Expired holds never block: the caller's clock decides expiry, so a
 * booking first deletes the slots of its candidate stations' expired
 * holds, then checks and inserts. The hold rows stay for `getHold` /
 * `confirmHold` until housekeeping deletes them.
 */
import { compareBookings, firstFree } from '../booking.js'
import { confirmDecision, newHold, newReservation } from '../booking-rules.js'
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
import type { PgDatabase, Tx } from './pool.js'
import { FindBatcher } from './find-batcher.js'

/** The PostgreSQL holds table also keeps the window a hold was placed with (./migrations.ts). */
type HoldRow = CommonHoldRow & { window_ms: number }
import { toBooking, toHold, toReservation, type BookingRow, type HoldRow as CommonHoldRow, type ReservationRow } from '../sql-rows.js'

const BOOKING_COLUMNS = {
  reservation: `'reservation' AS kind, r.reservation_id AS id, r.station_id, r.vehicle_id, r.at_ms,
                NULL::bigint AS expires_at_ms, NULL::text AS tx_id, NULL::bigint AS tx_started_at_ms`,
  hold: `'hold' AS kind, h.hold_id AS id, h.station_id, h.vehicle_id, h.at_ms, h.expires_at_ms, h.tx_id, h.tx_started_at_ms`,
}

/** $1 station ids, $2..$3 the open interval of withinWindow, $4 nowMs. */
const FIND_BOOKINGS = `
  SELECT ${BOOKING_COLUMNS.reservation}
    FROM reservations r
   WHERE r.station_id = ANY($1::text[])
     AND r.at_ms > $2 AND r.at_ms < $3                         -- rule: withinWindow (booking-rules.ts)
  UNION ALL
  SELECT ${BOOKING_COLUMNS.hold}
    FROM holds h
   WHERE h.station_id = ANY($1::text[])
     AND h.at_ms > $2 AND h.at_ms < $3                         -- rule: withinWindow (booking-rules.ts)
     AND h.reservation_id IS NULL AND h.expires_at_ms > $4     -- rule: isLiveHold (booking-rules.ts)`

/**
 * The whole booking in one statement when it goes well: the slots of the
 * candidate stations' expired holds go (they must not block the insert),
 * the bookings of the candidates are read (FIND_BOOKINGS), and the slot and
 * its owner go in at the first candidate free in that snapshot
 * (`ON CONFLICT DO NOTHING`, as INSERT_RESERVATION / INSERT_HOLD). `owner`
 * is the INSERT of the owner row, selecting from `pick` (station_id, lat,
 * lon) where the slot went in. The answer is the blocking bookings (the
 * columns of FIND_BOOKINGS; none: one row of NULLs) and, in every row,
 * `booked`: the station booked, or NULL when every candidate was blocked in
 * the snapshot or the constraint refused the pick (a booking committed
 * since); #book then goes on as before.
 * ($1 station ids, $2..$4 as FIND_BOOKINGS, $5 and $6 the stations' lat and
 * lon, $7 at, $8 window, $9 the owner's id, then the owner's columns.)
 */
function bookFirstFree(ownerColumn: 'reservation_id' | 'hold_id', owner: string): string {
  return `
  WITH reaped AS (
    -- SKIP LOCKED: a slot another writer is reaping or confirming right now is left to it (an insert
    -- that meets it waits for that writer), so two reapers never wait on each other in a cycle.
    DELETE FROM booking_slots WHERE hold_id IN (
      SELECT s.hold_id FROM booking_slots s JOIN holds h USING (hold_id)
       WHERE h.station_id = ANY($1::text[])
         AND h.reservation_id IS NULL AND h.expires_at_ms <= $4  -- rule: isExpiredHold (booking-rules.ts)
         FOR UPDATE OF s SKIP LOCKED)
    RETURNING 1
  ), found AS (${FIND_BOOKINGS}
  ), pick AS (
    SELECT c.station_id, c.lat, c.lon
      FROM unnest($1::text[], $5::float8[], $6::float8[]) WITH ORDINALITY AS c (station_id, lat, lon, ord)
     WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.station_id = c.station_id)
       -- Read to the end first, so the expired slots are gone before the slot below goes in
       -- (a row this transaction deleted never conflicts with its own insert).
       AND (SELECT COUNT(*) FROM reaped) >= 0
     ORDER BY c.ord
     LIMIT 1
  ), slot AS (
    INSERT INTO booking_slots (station_id, at_ms, window_ms, ${ownerColumn})
    SELECT station_id, $7, $8, $9 FROM pick
    ON CONFLICT ON CONSTRAINT booking_slots_window DO NOTHING
    RETURNING 1
  ), owner AS (${owner}
    RETURNING station_id
  )
  SELECT (SELECT station_id FROM owner) AS booked, f.* FROM (VALUES (1)) AS one (x) LEFT JOIN found f ON true`
}

const BOOK_RESERVATION = bookFirstFree('reservation_id', `
    INSERT INTO reservations (reservation_id, station_id, vehicle_id, lat, lon, at_ms, created_at_ms, hold_id)
    SELECT $9, p.station_id, $10::text, p.lat, p.lon, $7, $11::bigint, $12::text FROM pick p WHERE EXISTS (SELECT 1 FROM slot)`)

const BOOK_HOLD = bookFirstFree('hold_id', `
    INSERT INTO holds (hold_id, station_id, vehicle_id, lat, lon, at_ms, expires_at_ms, tx_id, tx_started_at_ms, created_at_ms, reservation_id, window_ms)
    SELECT $9, p.station_id, $10::text, p.lat, p.lon, $7, $11::bigint, $12::text, $13::bigint, $14::bigint, NULL, $8 FROM pick p WHERE EXISTS (SELECT 1 FROM slot)`)

/** The bookings whose slot overlaps a new one of station $1 at $2 with window $3 (rule: withinWindow, as the constraint reads it). */
const SLOT_CONFLICTS = `
  SELECT ${BOOKING_COLUMNS.reservation}
    FROM booking_slots s JOIN reservations r USING (reservation_id)
   WHERE s.station_id = $1 AND s.slot && numrange($2 - $3 / 2.0, $2 + $3 / 2.0, '[)')
  UNION ALL
  SELECT ${BOOKING_COLUMNS.hold}
    FROM booking_slots s JOIN holds h USING (hold_id)
   WHERE s.station_id = $1 AND s.slot && numrange($2 - $3 / 2.0, $2 + $3 / 2.0, '[)')`

/**
 * Insert the slot, and its owner only if the slot was free: the EXCLUDE
 * constraint is the arbiter, so a conflict answers zero rows instead of
 * aborting the transaction. ($1 station, $2 at, $3 window, then the owner.)
 */
const INSERT_RESERVATION = `
  WITH slot AS (
    INSERT INTO booking_slots (station_id, at_ms, window_ms, reservation_id) VALUES ($1, $2, $3, $4)
    ON CONFLICT ON CONSTRAINT booking_slots_window DO NOTHING
    RETURNING 1
  )
  INSERT INTO reservations (reservation_id, station_id, vehicle_id, lat, lon, at_ms, created_at_ms, hold_id)
  SELECT $4, $1, $5::text, $6::float8, $7::float8, $2, $8::bigint, $9::text WHERE EXISTS (SELECT 1 FROM slot)`

const INSERT_HOLD = `
  WITH slot AS (
    INSERT INTO booking_slots (station_id, at_ms, window_ms, hold_id) VALUES ($1, $2, $3, $4)
    ON CONFLICT ON CONSTRAINT booking_slots_window DO NOTHING
    RETURNING 1
  )
  INSERT INTO holds (hold_id, station_id, vehicle_id, lat, lon, at_ms, expires_at_ms, tx_id, tx_started_at_ms, created_at_ms, reservation_id, window_ms)
  SELECT $4, $1, $5::text, $6::float8, $7::float8, $2, $8::bigint, $9::text, $10::bigint, $11::bigint, NULL, $3 WHERE EXISTS (SELECT 1 FROM slot)`

/**
 * Confirm a hold if it is live at $3 (nowMs), in one statement: the hold
 * row is locked only if it is unconfirmed and not expired (rule:
 * isLiveHold, the case of confirmDecision, booking-rules.ts, that writes;
 * no row: decide on what the hold is, in JS). The hold's slot becomes the
 * reservation's, so the station is never free in between; if a writer whose
 * clock was later found the hold expired and freed its slot, the slot is
 * taken back only if it is still free (`confirmed` false: the hold expired).
 * The reservation is the hold's station, vehicle, position and time,
 * created at $3 (as confirmDecision builds it). Answers the hold as locked.
 * ($1 reservation, $2 hold, $3 nowMs.)
 */
const CONFIRM_LIVE_HOLD = `
  WITH cur AS (
    SELECT * FROM holds
     WHERE hold_id = $2
       AND reservation_id IS NULL AND expires_at_ms > $3      -- rule: isLiveHold (booking-rules.ts)
       FOR UPDATE
  ), moved AS (
    UPDATE booking_slots SET hold_id = NULL, reservation_id = $1 WHERE hold_id = $2 AND EXISTS (SELECT 1 FROM cur) RETURNING 1
  ), retaken AS (
    INSERT INTO booking_slots (station_id, at_ms, window_ms, reservation_id)
    SELECT c.station_id, c.at_ms, c.window_ms, $1 FROM cur c WHERE NOT EXISTS (SELECT 1 FROM moved)
    ON CONFLICT ON CONSTRAINT booking_slots_window DO NOTHING
    RETURNING 1
  ), reservation AS (
    INSERT INTO reservations (reservation_id, station_id, vehicle_id, lat, lon, at_ms, created_at_ms, hold_id)
    SELECT $1, c.station_id, c.vehicle_id, c.lat, c.lon, c.at_ms, $3::bigint, c.hold_id FROM cur c
     WHERE EXISTS (SELECT 1 FROM moved) OR EXISTS (SELECT 1 FROM retaken)
    RETURNING 1
  ), confirmed AS (
    UPDATE holds SET reservation_id = $1 WHERE hold_id = $2 AND EXISTS (SELECT 1 FROM reservation) RETURNING 1
  )
  SELECT c.*, EXISTS (SELECT 1 FROM confirmed) AS confirmed FROM cur c`

const findParams = (q: BookingQuery): unknown[] => [[...new Set(q.stationIds)], q.atMs - q.windowMs, q.atMs + q.windowMs, q.nowMs]

export class PgReservationStore implements ReservationStore {
  readonly #db: PgDatabase
  readonly #finds: FindBatcher

  constructor(db: PgDatabase) {
    this.#db = db
    this.#finds = new FindBatcher(async (u) => (await db.query<BookingRow>(FIND_BOOKINGS, [u.stationIds, u.loMs, u.hiMs, u.nowMs])).rows.map(toBooking))
  }

  createReservation(input: CreateReservationInput): Promise<BookingOutcome<ReservationRecord>> {
    const first = { sql: BOOK_RESERVATION, owner: [input.reservationId, input.vehicleId, input.nowMs, input.holdId ?? null] }
    return this.#book(input, first, (pick) => newReservation(input, pick), async (db, r) => {
      const res = await db.query(INSERT_RESERVATION, [
        r.stationId, r.atMs, input.windowMs, r.reservationId, r.vehicleId, r.position.lat, r.position.lon, r.createdAtMs, r.holdId,
      ])
      return res.rowCount === 1
    })
  }

  placeHold(input: PlaceHoldInput): Promise<BookingOutcome<HoldRecord>> {
    const first = { sql: BOOK_HOLD, owner: [input.holdId, input.vehicleId, input.expiresAtMs, input.txId, input.txStartedAtMs, input.nowMs] }
    return this.#book(input, first, (pick) => newHold(input, pick), async (db, h) => {
      const res = await db.query(INSERT_HOLD, [
        h.stationId, h.atMs, input.windowMs, h.holdId, h.vehicleId, h.position.lat, h.position.lon, h.expiresAtMs, h.txId, h.txStartedAtMs, h.createdAtMs,
      ])
      return res.rowCount === 1
    })
  }

  async confirmHold(input: { holdId: string; reservationId: string; nowMs: number }): Promise<ConfirmHoldOutcome> {
    for (;;) {
      const live = (await this.#db.query<HoldRow & { confirmed: boolean }>(CONFIRM_LIVE_HOLD, [input.reservationId, input.holdId, input.nowMs])).rows[0]
      if (live) {
        const hold = toHold(live)
        return live.confirmed ? confirmDecision(hold, input, () => null).outcome : { status: 'expired', hold }
      }
      // Not live: unknown, confirmed (answer its reservation) or expired, as confirmDecision says.
      const row = (await this.#db.query<HoldRow>('SELECT * FROM holds WHERE hold_id = $1', [input.holdId])).rows[0]
      const hold = row ? toHold(row) : null
      const earlier = hold?.reservationId ? await this.getReservation(hold.reservationId) : null
      const decision = confirmDecision(hold, input, () => earlier)
      // Live after all: placed (or changed) since the first statement; confirm it again.
      if (!decision.insert) return decision.outcome
    }
  }

  async releaseHold(holdId: string): Promise<boolean> {
    // The slot goes with the hold (ON DELETE CASCADE).
    return (await this.#db.query('DELETE FROM holds WHERE hold_id = $1 AND reservation_id IS NULL', [holdId])).rowCount === 1
  }

  async getHold(holdId: string): Promise<HoldRecord | null> {
    const row = (await this.#db.query<HoldRow>('SELECT * FROM holds WHERE hold_id = $1', [holdId])).rows[0]
    return row ? toHold(row) : null
  }

  async getReservation(reservationId: string): Promise<ReservationRecord | null> {
    const row = (await this.#db.query<ReservationRow>('SELECT * FROM reservations WHERE reservation_id = $1', [reservationId])).rows[0]
    return row ? toReservation(row) : null
  }

  async cancelReservation(reservationId: string, vehicleId: string): Promise<boolean> {
    const res = await this.#db.query('DELETE FROM reservations WHERE reservation_id = $1 AND vehicle_id = $2', [reservationId, vehicleId])
    return res.rowCount === 1
  }

  async cancelVehicleReservations(vehicleId: string, fromMs: number): Promise<number> {
    return (await this.#db.query('DELETE FROM reservations WHERE vehicle_id = $1 AND at_ms >= $2', [vehicleId, fromMs])).rowCount ?? 0
  }

  async listVehicleReservations(vehicleId: string, fromMs: number): Promise<ReservationRecord[]> {
    const res = await this.#db.query<ReservationRow>(
      'SELECT * FROM reservations WHERE vehicle_id = $1 AND at_ms >= $2 ORDER BY at_ms, reservation_id',
      [vehicleId, fromMs],
    )
    return res.rows.map(toReservation)
  }

  async findBookings(query: BookingQuery): Promise<Booking[]> {
    this.#db.guard()
    if (query.stationIds.length === 0) return []
    // With the other questions of this turn, in one round trip (./find-batcher.ts).
    return this.#finds.find(query)
  }

  async deleteExpiredHolds(nowMs: number): Promise<number> {
    // rule: isExpiredHold (booking-rules.ts); their slots go with them (ON DELETE CASCADE).
    return (await this.#db.query('DELETE FROM holds WHERE reservation_id IS NULL AND expires_at_ms <= $1', [nowMs])).rowCount ?? 0
  }

  async counts(nowMs: number): Promise<ReservationCounts> {
    // One statement, so both numbers come from the same snapshot.
    const res = await this.#db.query<{ reservations: number; active_holds: number }>(
      `SELECT (SELECT COUNT(*) FROM reservations) AS reservations,
              (SELECT COUNT(*) FROM holds WHERE reservation_id IS NULL AND expires_at_ms > $1) AS active_holds  -- rule: isLiveHold (booking-rules.ts)`,
      [nowMs],
    )
    const row = res.rows[0]
    return { reservations: row?.reservations ?? 0, activeHolds: row?.active_holds ?? 0 }
  }

  /**
   * One booking: free the slots of the candidate stations' expired holds,
   * check, and insert at the first free candidate, all in the one statement
   * `first` (bookFirstFree). When the constraint refused that pick (a
   * booking committed since the check, or one the check did not count as a
   * conflict: made with a wider window), the pick is reported with what
   * blocks it and the next free candidate is tried with `insert` (null: the
   * constraint refused it too), and so on. No transaction: nothing is held
   * between the statements, each insert (slot and owner) is one statement,
   * and the reaping of expired slots stands on its own, so BEGIN and COMMIT
   * would only add round trips.
   */
  async #book<R>(
    input: { candidates: readonly BookingCandidate[]; atMs: number; windowMs: number; nowMs: number },
    first: { sql: string; owner: unknown[] },
    record: (pick: BookingCandidate) => R,
    insert: (db: Pick<Tx, 'query'>, r: R) => Promise<boolean>,
  ): Promise<BookingOutcome<R>> {
    const db = this.#db
    db.guard()
    const stations = new Map<string, BookingCandidate>()
    for (const c of input.candidates) if (!stations.has(c.stationId)) stations.set(c.stationId, c)
    if (stations.size === 0) return { ok: false, conflicts: [] }
    const picks = [...stations.values()]
    const rows = (await db.query<BookingRow & { booked: string | null }>(first.sql, [
      ...findParams({ ...input, stationIds: [...stations.keys()] }),
      picks.map((c) => c.position.lat), picks.map((c) => c.position.lon), input.atMs, input.windowMs, ...first.owner,
    ])).rows
    const booked = rows[0]?.booked
    if (booked != null) return { ok: true, record: record(stations.get(booked) as BookingCandidate) }
    const blocking = rows.filter((r) => r.id !== null).map(toBooking)
    let candidates = input.candidates
    // The first free pick in `first`'s snapshot is the one `first` tried, and the constraint refused it.
    let refused = true
    for (;;) {
      const pick = firstFree(candidates, blocking)
      if (!pick) return { ok: false, conflicts: blocking.sort(compareBookings) }
      const r = record(pick)
      if (!refused && (await insert(db, r))) return { ok: true, record: r }
      refused = false
      const slots = await db.query<BookingRow>(SLOT_CONFLICTS, [pick.stationId, input.atMs, input.windowMs])
      blocking.push(...slots.rows.map(toBooking))
      candidates = candidates.filter((c) => c.stationId !== pick.stationId)
    }
  }
}
