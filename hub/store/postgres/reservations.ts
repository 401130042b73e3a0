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
 * The first attempts of the bookings asked in one turn of the event loop go
 * in one statement (BOOK_BATCH, up to BATCH_MAX at a time), each as if asked
 * after the ones before it, all or nothing; a batch that cannot book them all
 * as it picked them (or fails for a reason one booking can cause) is rolled
 * back and its bookings run alone and whole, one after another in the order
 * asked.
 *
 * Expired holds never block: the caller's clock decides expiry, so a
 * booking first deletes the slots of its candidate stations' expired
 * holds, then checks and inserts. The hold rows stay for `getHold` /
 * `confirmHold` until housekeeping deletes them.
 */
import { TurnBatch, type Asked } from '../../../base/turn-batch.js'
import type { PgVehicleCounts } from './vehicle-counts.js'
import { compareBookings, firstFree } from '../booking.js'
import { blocksSlot, confirmDecision, newHold, newReservation } from '../booking-rules.js'
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
import { StoreError } from '../errors.js'
import { PICK_REFUSED, oneQuestionMayCause, pgCode } from './errors.js'
import { FindBatcher } from './find-batcher.js'
import { asStored, firstPerKey } from './batch-keys.js'

/** The PostgreSQL holds table also keeps the window a hold was placed with (./migrations.ts). */
type HoldRow = CommonHoldRow & { window_ms: number }
import { toBooking, toHold, toReservation, type BookingRow, type HoldRow as CommonHoldRow, type ReservationRow } from '../sql-rows.js'

const BOOKING_COLUMNS = {
  reservation: `'reservation' AS kind, r.reservation_id AS id, r.station_id, r.vehicle_id, r.at_ms,
                NULL::bigint AS expires_at_ms, NULL::text AS tx_id, NULL::bigint AS tx_started_at_ms`,
  hold: `'hold' AS kind, h.hold_id AS id, h.station_id, h.vehicle_id, h.at_ms, h.expires_at_ms, h.tx_id, h.tx_started_at_ms`,
}

/*
 * The booking rules this store keeps in SQL (booking-rules.ts), each written once here and
 * instantiated over the columns and parameters of each statement that needs it. Each ends its
 * line with the `-- rule:` comment naming the rule.
 */
/** rule withinWindow: `at` strictly between `lo` and `hi` (a booking's atMs -/+ windowMs). */
const withinWindowSql = (at: string, lo: string, hi: string): string => `${at} > ${lo} AND ${at} < ${hi}  -- rule: withinWindow (booking-rules.ts)\n`
/** rule isLiveHold: hold `h` (reservation_id, expires_at_ms) live at `now`. */
const liveHoldSql = (h: string, now: string): string => `${h}.reservation_id IS NULL AND ${h}.expires_at_ms > ${now}  -- rule: isLiveHold (booking-rules.ts)\n`
/** rule isExpiredHold: hold `h` expired at `now`. */
const expiredHoldSql = (h: string, now: string): string => `${h}.reservation_id IS NULL AND ${h}.expires_at_ms <= ${now}  -- rule: isExpiredHold (booking-rules.ts)\n`
/** rule slotsOverlap (booking-rules.ts): the slot of a booking at `at` with window `window` (as booking_slots.slot, ./migrations.ts). */
const slotSql = (at: string, window: string): string => `numrange(${at} - ${window} / 2.0, ${at} + ${window} / 2.0, '[)')`

/** The bookings of stations `ids` (a text[]) strictly between `lo` and `hi`, holds live at `now` (columns: BookingRow). */
function findBookingsSql(ids: string, lo: string, hi: string, now: string): string {
  return `
  SELECT ${BOOKING_COLUMNS.reservation}
    FROM reservations r
   WHERE r.station_id = ANY(${ids})
     AND ${withinWindowSql('r.at_ms', lo, hi)}  UNION ALL
  SELECT ${BOOKING_COLUMNS.hold}
    FROM holds h
   WHERE h.station_id = ANY(${ids})
     AND ${withinWindowSql('h.at_ms', lo, hi)}     AND ${liveHoldSql('h', now)}`
}

/** $1 station ids, $2..$3 the open interval of withinWindow, $4 nowMs. */
const FIND_BOOKINGS = findBookingsSql('$1::text[]', '$2', '$3', '$4')

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
         AND ${expiredHoldSql('h', '$4')}         FOR UPDATE OF s SKIP LOCKED)
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

/**
 * The first attempt of many bookings (reservations and holds) in one
 * statement: as bookFirstFree for each, in the order asked, as if each ran
 * after the ones asked before it. $1 is a jsonb array of the bookings in that
 * order (`i` from 1; BatchRow). The slots of the expired holds (each at the
 * asker's clock) of every booking's candidates go; then each booking, in
 * order, picks its first candidate free in the statement's snapshot
 * (findBookingsSql, as FIND_BOOKINGS) and free of the picks of the bookings
 * before it (the window rule as FIND_BOOKINGS applies it, and as the
 * constraint does: no two picks of one batch conflict, so the earlier-asked
 * keeps what it would have got first). The picked slots go in in (station,
 * at, ask) order, the same in every replica, so two replicas' batches wait on
 * each other's slots in one order; `ON CONFLICT DO NOTHING`, and a slot the
 * constraint refused (another writer committed since, or a booking of a
 * wider window that the walk does not count) rolls the whole batch back
 * (#firstsTogether runs it in a transaction), since the bookings after it
 * stepped around it. The owners whose slot went in follow. Answers per booking (ordered by i): `tried`, the candidate picked
 * (NULL: none free); `booked`, that station if it went in, else NULL; and for
 * one not booked, `found`, its FIND_BOOKINGS in the snapshot (jsonb array of
 * BookingRow, NULL for none).
 */
const BOOK_BATCH = `
  WITH RECURSIVE asked AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS a (
      i int, kind text, id text, vehicle_id text, at_ms bigint, window_ms bigint, now_ms bigint, hold_ref text,
      expires_at_ms bigint, tx_id text, tx_started_at_ms bigint, stations text[], lats float8[], lons float8[])
  ), cand AS (
    SELECT a.i, c.station_id, c.lat, c.lon, c.ord
      FROM asked a, unnest(a.stations, a.lats, a.lons) WITH ORDINALITY AS c (station_id, lat, lon, ord)
  ), reaped AS (
    -- SKIP LOCKED as in bookFirstFree.
    DELETE FROM booking_slots WHERE hold_id IN (
      SELECT s.hold_id FROM booking_slots s JOIN holds h USING (hold_id) JOIN cand c ON c.station_id = h.station_id JOIN asked a ON a.i = c.i
       WHERE ${expiredHoldSql('h', 'a.now_ms')}         FOR UPDATE OF s SKIP LOCKED)
    RETURNING 1
  ), walk (i, pick, ps, pa, pw, pk, pe) AS (
    -- One booking per step, in the order asked; ps..pe: the picks so far (station, at, window, kind, expires).
    SELECT 0, NULL::text, '{}'::text[], '{}'::bigint[], '{}'::bigint[], '{}'::text[], '{}'::bigint[]
    UNION ALL
    SELECT a.i, p.station_id, w.ps || p.station_id, w.pa || a.at_ms, w.pw || a.window_ms, w.pk || a.kind, w.pe || a.expires_at_ms
      FROM walk w JOIN asked a ON a.i = w.i + 1
      LEFT JOIN LATERAL (
        SELECT c.station_id FROM unnest(a.stations) WITH ORDINALITY AS c (station_id, ord)
         WHERE NOT EXISTS (${findBookingsSql('ARRAY[c.station_id]', 'a.at_ms - a.window_ms', 'a.at_ms + a.window_ms', 'a.now_ms')}
           )
           AND NOT EXISTS (
             SELECT 1 FROM (SELECT e.*, NULL::text AS reservation_id
                              FROM unnest(w.ps, w.pa, w.pw, w.pk, w.pe) AS e (station_id, at_ms, window_ms, kind, expires_at_ms)) e
              WHERE e.station_id = c.station_id
                AND (e.kind = 'reservation' OR ${liveHoldSql('e', 'a.now_ms')}                )
                -- rule: blocksSlot (booking-rules.ts)
                AND ((${withinWindowSql('e.at_ms', 'a.at_ms - a.window_ms', 'a.at_ms + a.window_ms')}                    )
                     OR ${slotSql('e.at_ms', 'e.window_ms')} && ${slotSql('a.at_ms', 'a.window_ms')}))  -- rule: slotsOverlap (booking-rules.ts)
           -- Read to the end first, as in bookFirstFree.
           AND (SELECT COUNT(*) FROM reaped) >= 0
         ORDER BY c.ord
         LIMIT 1
      ) p ON true
  ), picked AS (
    SELECT a.*, c.station_id, c.lat, c.lon FROM walk w JOIN asked a ON a.i = w.i JOIN cand c ON c.i = w.i AND c.station_id = w.pick
  ), slot AS (
    INSERT INTO booking_slots (station_id, at_ms, window_ms, reservation_id, hold_id)
    SELECT p.station_id, p.at_ms, p.window_ms, CASE WHEN p.kind = 'reservation' THEN p.id END, CASE WHEN p.kind = 'hold' THEN p.id END
      FROM picked p
     ORDER BY p.station_id, p.at_ms, p.i
    ON CONFLICT ON CONSTRAINT booking_slots_window DO NOTHING
    RETURNING reservation_id, hold_id
  ), reservation AS (
    INSERT INTO reservations (reservation_id, station_id, vehicle_id, lat, lon, at_ms, created_at_ms, hold_id)
    SELECT p.id, p.station_id, p.vehicle_id, p.lat, p.lon, p.at_ms, p.now_ms, p.hold_ref
      FROM picked p JOIN slot s ON s.reservation_id = p.id WHERE p.kind = 'reservation'
    RETURNING reservation_id AS id
  ), hold AS (
    INSERT INTO holds (hold_id, station_id, vehicle_id, lat, lon, at_ms, expires_at_ms, tx_id, tx_started_at_ms, created_at_ms, reservation_id, window_ms)
    SELECT p.id, p.station_id, p.vehicle_id, p.lat, p.lon, p.at_ms, p.expires_at_ms, p.tx_id, p.tx_started_at_ms, p.now_ms, NULL, p.window_ms
      FROM picked p JOIN slot s ON s.hold_id = p.id WHERE p.kind = 'hold'
    RETURNING hold_id AS id
  ), booked AS (
    SELECT p.i, p.station_id FROM picked p JOIN reservation r ON r.id = p.id WHERE p.kind = 'reservation'
    UNION ALL
    SELECT p.i, p.station_id FROM picked p JOIN hold h ON h.id = p.id WHERE p.kind = 'hold'
  )
  SELECT w.i, w.pick AS tried, b.station_id AS booked,
         CASE WHEN b.i IS NULL THEN (SELECT jsonb_agg(f) FROM (${findBookingsSql('a.stations', 'a.at_ms - a.window_ms', 'a.at_ms + a.window_ms', 'a.now_ms')}
         ) f) END AS found,
         -- All or nothing: a pick the constraint refused (a booking another writer committed since the
         -- snapshot, or one of a wider window the walk does not read) fails the statement, undoing the
         -- batch, because the bookings after it have stepped around it; they all run alone instead.
         CASE WHEN w.pick IS NOT NULL AND b.i IS NULL THEN voltway_pick_refused(w.i) END AS refused
    FROM walk w JOIN asked a ON a.i = w.i LEFT JOIN booked b ON b.i = w.i
   ORDER BY w.i`

/** The bookings whose slot overlaps a new one of station $1 at $2 with window $3 (rule: withinWindow, as the constraint reads it). */
const SLOT_CONFLICTS = `
  SELECT ${BOOKING_COLUMNS.reservation}
    FROM booking_slots s JOIN reservations r USING (reservation_id)
   WHERE s.station_id = $1 AND s.slot && ${slotSql('$2', '$3')}
  UNION ALL
  SELECT ${BOOKING_COLUMNS.hold}
    FROM booking_slots s JOIN holds h USING (hold_id)
   WHERE s.station_id = $1 AND s.slot && ${slotSql('$2', '$3')}`

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

/**
 * CONFIRM_LIVE_HOLD for the confirms of one turn: $1 reservation ids, $2 hold ids, $3 the callers'
 * clocks, one hold id once. Each row as the single statement would do it alone (holds locked in
 * hold id order); one row per hold that was live at its caller's clock, with `confirmed`.
 */
const CONFIRM_LIVE_HOLDS = `
  WITH v AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v (new_reservation_id, hold_id, now_ms)
  ), cur AS (
    SELECT h.*, v.new_reservation_id, v.now_ms FROM holds h JOIN v ON v.hold_id = h.hold_id
     WHERE h.reservation_id IS NULL AND h.expires_at_ms > v.now_ms  -- rule: isLiveHold (booking-rules.ts)
     ORDER BY h.hold_id
       FOR UPDATE OF h
  ), moved AS (
    UPDATE booking_slots s SET hold_id = NULL, reservation_id = c.new_reservation_id FROM cur c WHERE s.hold_id = c.hold_id
    RETURNING c.hold_id
  ), retaken AS (
    INSERT INTO booking_slots (station_id, at_ms, window_ms, reservation_id)
    SELECT c.station_id, c.at_ms, c.window_ms, c.new_reservation_id FROM cur c WHERE c.hold_id NOT IN (SELECT hold_id FROM moved)
    ON CONFLICT ON CONSTRAINT booking_slots_window DO NOTHING
    RETURNING reservation_id
  ), reservation AS (
    INSERT INTO reservations (reservation_id, station_id, vehicle_id, lat, lon, at_ms, created_at_ms, hold_id)
    SELECT c.new_reservation_id, c.station_id, c.vehicle_id, c.lat, c.lon, c.at_ms, c.now_ms, c.hold_id FROM cur c
     WHERE c.hold_id IN (SELECT hold_id FROM moved) OR c.new_reservation_id IN (SELECT reservation_id FROM retaken)
    RETURNING hold_id, reservation_id
  ), confirmed AS (
    UPDATE holds h SET reservation_id = r.reservation_id FROM reservation r WHERE h.hold_id = r.hold_id RETURNING h.hold_id
  )
  SELECT c.*, c.hold_id IN (SELECT hold_id FROM confirmed) AS confirmed FROM cur c`

type ConfirmInput = { holdId: string; reservationId: string; nowMs: number }
/** A live hold's row as a confirm statement read it, and whether the statement confirmed it. */
type LiveConfirm = HoldRow & { confirmed: boolean }

const findParams = (q: BookingQuery): unknown[] => [[...new Set(q.stationIds)], q.atMs - q.windowMs, q.atMs + q.windowMs, q.nowMs]

/**
 * What BOOK_BATCH takes of a booking besides its place in the batch, its candidates and its time:
 * the owner row, in the columns of a BookingRow (less its station and time), and a reservation's hold_id.
 */
type OwnerColumns = Omit<BookingRow, 'station_id' | 'at_ms'> & { hold_ref: string | null }

/** A booking's first attempt, as #firsts is asked it. */
interface FirstAsk {
  /** The booking's candidate stations (without duplicates, in order) and time. */
  query: BookingQuery
  picks: BookingCandidate[]
  /** Its bookFirstFree statement, to run it alone. */
  alone: { sql: string; params: unknown[] }
  owner: OwnerColumns
}

/**
 * A first attempt's outcome: `booked` the station booked; or null, with what blocks the booking (as
 * it would read them after the bookings asked before it) and `refused`, the station the attempt
 * tried and the constraint refused (null: none tried).
 */
interface FirstOutcome {
  booked: string | null
  blocking: Booking[]
  refused: string | null
}

/** What a booking is answered by its turn's batch. */
type FirstAnswer = (
  | ({ alone: false } & FirstOutcome)
  /** The batch could not answer it: the booking runs alone, whole (first attempt and the rest), once `after` is done. */
  | { alone: true; after: Promise<void> }
) & {
  /** Called when the booking is over (booked or refused, or failed): what is asked after it may go. */
  done: () => void
}

/** Most bookings one BOOK_BATCH takes: its walk costs grow with the square of its size. */
const BATCH_MAX = 100
/** How long a batch waits for a lock another writer holds before it gives up and its bookings run alone, ms. */
export const BATCH_LOCK_TIMEOUT_MS = 100

/**
 * What a failed batch's bookings do: run alone one after another in the order asked when one
 * booking can have caused the failure and fails fast (a pick refused, an id used before, a value
 * refused); run alone side by side when another writer held a lock past the batch's short lock
 * timeout or a deadlock was broken (one after another, each would wait for that writer in turn);
 * or all get the batch's error when the database is unavailable, closed or its pool full, which
 * alone they would meet too.
 */
function afterFailure(err: unknown): 'in-order' | 'side-by-side' | 'fail' {
  if (!(err instanceof StoreError)) return 'fail'
  if (pgCode(err.cause) === PICK_REFUSED || err.code === 'DUPLICATE_ID' || err.code === 'DATABASE') return 'in-order'
  return err.code === 'BUSY' && ['55P03', '40P01'].includes(pgCode(err.cause)) ? 'side-by-side' : 'fail'
}

/**
 * How long a booking waits for the ones asked before it in its turn before it goes anyway, ms:
 * longer than a booking takes when the database answers, so only one that hangs (a connection
 * gone silent) is overtaken, and then by the rest of its turn rather than holding it up.
 */
const WAIT_FOR_EARLIER_MS = 15_000

/** `p`, or nothing after `ms`. */
async function atMost(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))])
  clearTimeout(timer)
}



export class PgReservationStore implements ReservationStore {
  /** Bookings go in per-turn batches decided by the EXCLUDE constraint: the caller counts before booking (hub/reservations/vehicle-limit.ts). */
  readonly limitsInBooking = false
  readonly #db: PgDatabase
  readonly #finds: FindBatcher
  readonly #counts: PgVehicleCounts
  /** The first attempts of the bookings asked in one turn: one statement for all (BOOK_BATCH). */
  readonly #firsts: TurnBatch<FirstAsk, FirstAnswer>
  /** The confirms of live holds asked in one turn: one statement for all (CONFIRM_LIVE_HOLDS). */
  readonly #confirms: TurnBatch<ConfirmInput, LiveConfirm | null>

  constructor(db: PgDatabase, counts: PgVehicleCounts) {
    this.#db = db
    this.#counts = counts
    this.#firsts = new TurnBatch((batch) => this.#answerFirsts(batch))
    this.#confirms = new TurnBatch((batch) => this.#confirmLive(batch), { aloneOnFailure: oneQuestionMayCause })
    this.#finds = new FindBatcher(async (u) => (await db.query<BookingRow>(FIND_BOOKINGS, [u.stationIds, u.loMs, u.hiMs, u.nowMs])).rows.map(toBooking))
  }

  createReservation(input: CreateReservationInput): Promise<BookingOutcome<ReservationRecord>> {
    const first = {
      sql: BOOK_RESERVATION,
      owner: [input.reservationId, input.vehicleId, input.nowMs, input.holdId ?? null],
      columns: { kind: 'reservation', id: input.reservationId, vehicle_id: input.vehicleId, hold_ref: input.holdId ?? null, expires_at_ms: null, tx_id: null, tx_started_at_ms: null } as const,
    }
    return this.#book(input, first, (pick) => newReservation(input, pick), async (db, r) => {
      const res = await db.query(INSERT_RESERVATION, [
        r.stationId, r.atMs, input.windowMs, r.reservationId, r.vehicleId, r.position.lat, r.position.lon, r.createdAtMs, r.holdId,
      ])
      return res.rowCount === 1
    })
  }

  placeHold(input: PlaceHoldInput): Promise<BookingOutcome<HoldRecord>> {
    const first = {
      sql: BOOK_HOLD,
      owner: [input.holdId, input.vehicleId, input.expiresAtMs, input.txId, input.txStartedAtMs, input.nowMs],
      columns: { kind: 'hold', id: input.holdId, vehicle_id: input.vehicleId, hold_ref: null, expires_at_ms: input.expiresAtMs, tx_id: input.txId, tx_started_at_ms: input.txStartedAtMs } as const,
    }
    return this.#book(input, first, (pick) => newHold(input, pick), async (db, h) => {
      const res = await db.query(INSERT_HOLD, [
        h.stationId, h.atMs, input.windowMs, h.holdId, h.vehicleId, h.position.lat, h.position.lon, h.expiresAtMs, h.txId, h.txStartedAtMs, h.createdAtMs,
      ])
      return res.rowCount === 1
    })
  }

  async confirmHold(input: { holdId: string; reservationId: string; nowMs: number }): Promise<ConfirmHoldOutcome> {
    for (;;) {
      const live = await this.#confirms.ask(input)
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

  /**
   * The turn's confirms of live holds in one statement; a hold asked twice in the turn: its first
   * confirm there, each later one alone after it, in the order asked (as CONFIRM_LIVE_HOLD).
   */
  async #confirmLive(batch: Asked<ConfirmInput, LiveConfirm | null>[]): Promise<void> {
    const { first, later } = firstPerKey(batch, (a) => a.question.holdId)
    const asks = first.map((a) => a.question)
    const res = await this.#db.query<LiveConfirm>(CONFIRM_LIVE_HOLDS, [asks.map((q) => q.reservationId), asks.map((q) => q.holdId), asks.map((q) => q.nowMs)])
    const live = new Map(res.rows.map((r) => [r.hold_id, r]))
    for (const a of first) a.resolve(live.get(asStored(a.question.holdId)) ?? null)
    for (const a of later) {
      const q = a.question
      a.resolve((await this.#db.query<LiveConfirm>(CONFIRM_LIVE_HOLD, [q.reservationId, q.holdId, q.nowMs])).rows[0] ?? null)
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

  async cancelVehicleReservations(vehicleId: string, fromMs: number, createdUpToMs?: number): Promise<number> {
    const sql = `DELETE FROM reservations WHERE vehicle_id = $1
                   AND at_ms >= $2 AND ($3::bigint IS NULL OR created_at_ms <= $3)  -- rule: isCancelledWithAll (booking-rules.ts)`
    return (await this.#db.query(sql, [vehicleId, fromMs, createdUpToMs ?? null])).rowCount ?? 0
  }

  async listVehicleReservations(vehicleId: string, fromMs: number): Promise<ReservationRecord[]> {
    const res = await this.#db.query<ReservationRow>(
      'SELECT * FROM reservations WHERE vehicle_id = $1 AND at_ms >= $2 ORDER BY at_ms, reservation_id',
      [vehicleId, fromMs],
    )
    return res.rows.map(toReservation)
  }

  async countVehicleBookings(q: { vehicleId: string; fromMs: number; nowMs: number }): Promise<number> {
    this.#db.guard()
    // With the other counts of this turn, of both kinds, in one round trip (./vehicle-counts.ts).
    return this.#counts.bookings(q)
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
   * check, and insert at the first free candidate, all in one statement:
   * `first` (bookFirstFree) when asked alone, BOOK_BATCH with the other
   * bookings asked in the same turn (#answerFirsts). When the constraint
   * refused that pick (a booking committed since the check, or one the check
   * did not count as a conflict: made with a wider window), the pick is
   * reported with what blocks it and the next free candidate is tried with
   * `insert` (null: the constraint refused it too), and so on. No
   * transaction: nothing is held between the statements, each insert (slot
   * and owner) is one statement, and the reaping of expired slots stands on
   * its own, so BEGIN and COMMIT would only add round trips.
   */
  async #book<R>(
    input: { candidates: readonly BookingCandidate[]; atMs: number; windowMs: number; nowMs: number },
    first: { sql: string; owner: unknown[]; columns: OwnerColumns },
    record: (pick: BookingCandidate) => R,
    insert: (db: Pick<Tx, 'query'>, r: R) => Promise<boolean>,
  ): Promise<BookingOutcome<R>> {
    const db = this.#db
    db.guard()
    const stations = new Map<string, BookingCandidate>()
    for (const c of input.candidates) if (!stations.has(c.stationId)) stations.set(c.stationId, c)
    if (stations.size === 0) return { ok: false, conflicts: [] }
    const picks = [...stations.values()]
    const query = { stationIds: [...stations.keys()], atMs: input.atMs, windowMs: input.windowMs, nowMs: input.nowMs }
    const alone = {
      sql: first.sql,
      params: [...findParams(query), picks.map((c) => c.position.lat), picks.map((c) => c.position.lon), input.atMs, input.windowMs, ...first.owner],
    }
    const answer = await this.#firsts.ask({ query, picks, alone, owner: first.columns })
    try {
      if (!answer.alone) return await this.#rest(input, stations, answer, record, insert)
      await atMost(answer.after, WAIT_FOR_EARLIER_MS)
      return await this.#rest(input, stations, await this.#firstAlone({ query, picks, alone, owner: first.columns }), record, insert)
    } finally {
      answer.done()
    }
  }

  /** A booking after its first attempt: booked, or the next free candidate is tried, and so on (#book). */
  async #rest<R>(
    input: { candidates: readonly BookingCandidate[]; atMs: number; windowMs: number },
    stations: ReadonlyMap<string, BookingCandidate>,
    first: FirstOutcome,
    record: (pick: BookingCandidate) => R,
    insert: (db: Pick<Tx, 'query'>, r: R) => Promise<boolean>,
  ): Promise<BookingOutcome<R>> {
    const db = this.#db
    const { booked, blocking, refused } = first
    if (booked !== null) return { ok: true, record: record(stations.get(booked) as BookingCandidate) }
    let candidates = input.candidates
    for (;;) {
      const pick = firstFree(candidates, blocking)
      if (!pick) return { ok: false, conflicts: blocking.sort(compareBookings) }
      const r = record(pick)
      // The pick the first attempt tried, the constraint refused: only what blocks it is read.
      if (pick.stationId !== refused && (await insert(db, r))) return { ok: true, record: r }
      const slots = await db.query<BookingRow>(SLOT_CONFLICTS, [pick.stationId, input.atMs, input.windowMs])
      blocking.push(...slots.rows.map(toBooking))
      candidates = candidates.filter((c) => c.stationId !== pick.stationId)
    }
  }

  /**
   * The first attempts asked in one turn, in chunks of BATCH_MAX, each chunk once the bookings of
   * the one before are over (booked, refused or failed; at most WAIT_FOR_EARLIER_MS each): one
   * alone is its bookFirstFree; several are one BOOK_BATCH, all or nothing (#firstsTogether). A
   * chunk whose batch fails goes on as afterFailure says: its bookings alone and whole, in the
   * order asked (so each gets what it gets when asked after the ones before it) or side by side,
   * or all with the batch's error.
   */
  async #answerFirsts(batch: Asked<FirstAsk, FirstAnswer>[]): Promise<void> {
    for (let from = 0; from < batch.length; from += BATCH_MAX) {
      const chunk = batch.slice(from, from + BATCH_MAX)
      const over: Array<Promise<void>> = []
      const doneOf = (): (() => void) => {
        let done = (): void => undefined
        over.push(new Promise<void>((resolve) => (done = resolve)))
        return done
      }
      // A lone booking runs alone; a batch answers its chunk, or says how its bookings go on.
      let then: 'answered' | ReturnType<typeof afterFailure> = 'in-order'
      let failure: unknown = null
      if (chunk.length > 1) {
        try {
          const answers = await this.#firstsTogether(chunk.map((a) => a.question))
          chunk.forEach((a, k) => a.resolve({ alone: false, ...(answers[k] as FirstOutcome), done: doneOf() }))
          then = 'answered'
        } catch (err) {
          then = afterFailure(err)
          failure = err
        }
      }
      if (then === 'fail') for (const a of chunk) a.reject(failure)
      else if (then === 'side-by-side') for (const a of chunk) a.resolve({ alone: true, after: Promise.resolve(), done: doneOf() })
      else if (then === 'in-order') {
        let after = Promise.resolve()
        for (const a of chunk) {
          a.resolve({ alone: true, after, done: doneOf() })
          after = over[over.length - 1] as Promise<void>
        }
      }
      // The next chunk goes after this one's bookings, as if asked after them.
      await atMost(Promise.all(over).then(() => undefined), WAIT_FOR_EARLIER_MS)
    }
  }

  async #firstAlone(q: FirstAsk): Promise<FirstOutcome> {
    const rows = (await this.#db.query<BookingRow & { booked: string | null }>(q.alone.sql, q.alone.params)).rows
    const booked = rows[0]?.booked ?? null
    if (booked !== null) return { booked, blocking: [], refused: null }
    const blocking = rows.filter((r) => r.id !== null).map(toBooking)
    // The first free pick in the statement's snapshot is the one it tried, and the constraint refused it.
    return { booked: null, blocking, refused: firstFree(q.picks, blocking)?.stationId ?? null }
  }

  /**
   * BOOK_BATCH for `asked`, in that order. What blocks one not booked is what it would read after
   * the ones asked before it: the snapshot's bookings (`found`) and those of the batch before it
   * that the walk counted as blockers (`blocksSlot`, booking-rules.ts).
   */
  async #firstsTogether(asked: FirstAsk[]): Promise<FirstOutcome[]> {
    const rows = asked.map((q, k) => ({
      i: k + 1,
      ...q.owner,
      at_ms: q.query.atMs,
      window_ms: q.query.windowMs,
      now_ms: q.query.nowMs,
      stations: q.picks.map((c) => c.stationId),
      lats: q.picks.map((c) => c.position.lat),
      lons: q.picks.map((c) => c.position.lon),
    }))
    type Answer = { i: number; tried: string | null; booked: string | null; found: BookingRow[] | null }
    // One statement, its own transaction: a pick refused fails it whole (PICK_REFUSED). A batch does not queue
    // behind another writer's locks (nor wait out a deadlock check): it gives up and its bookings run alone.
    const answered = (await this.#db.query<Answer>(BOOK_BATCH, [JSON.stringify(rows)], { lockTimeoutMs: BATCH_LOCK_TIMEOUT_MS })).rows
    const byI = new Map(answered.map((r) => [r.i, r]))
    const before: Array<Booking & { windowMs: number }> = []
    return asked.map((q, k) => {
      const row = byI.get(k + 1)
      if (!row) throw new Error(`BOOK_BATCH answered no row for booking ${k + 1}`)
      if (row.booked !== null) {
        before.push({ ...toBooking({ ...q.owner, station_id: row.booked, at_ms: q.query.atMs }), windowMs: q.query.windowMs })
        return { booked: row.booked, blocking: [], refused: null }
      }
      const mine = new Set(q.query.stationIds)
      // As the walk counts them: the earlier picks within its window or whose slot overlaps its own.
      const blocking = [...(row.found ?? []).map(toBooking), ...before.filter((b) => mine.has(b.stationId) && blocksSlot(b, q.query)).map(({ windowMs: _, ...b }) => b as Booking)]
      return { booked: null, blocking, refused: null }
    })
  }
}
