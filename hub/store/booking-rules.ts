/**
 * The booking rules every ReservationStore applies (docs/protocol.md "Reservation
 * rules"), each in one place. A store calls these in JS where it can; where a
 * rule must run inside the database for atomicity (the conflict check of a
 * booking transaction, bulk housekeeping) the SQL names the rule it encodes
 * (`-- rule: withinWindow (booking-rules.ts)`) and the contract suite
 * (test/helpers/store-contract.ts) checks that encoding by name.
 */
import type {
  Booking,
  BookingCandidate,
  BookingQuery,
  ConfirmHoldOutcome,
  CreateReservationInput,
  HoldRecord,
  PlaceHoldInput,
  ReservationRecord,
} from './types.js'

/**
 * The window rule: a booking at `atMs` and one at `otherMs` (epoch ms) of one
 * station conflict when `|atMs - otherMs| < windowMs`; exactly `windowMs`
 * apart is allowed. In SQL: `at_ms > atMs - windowMs AND at_ms < atMs + windowMs`.
 */
export function withinWindow(atMs: number, otherMs: number, windowMs: number): boolean {
  return Math.abs(atMs - otherMs) < windowMs
}

/**
 * A hold blocks its station while it is live: unconfirmed and `nowMs <
 * expiresAtMs`. A confirmed hold blocks through its reservation instead; an
 * expired one never blocks. In SQL: `reservation_id IS NULL AND expires_at_ms > nowMs`.
 */
export function isLiveHold(hold: Pick<HoldRecord, 'reservationId' | 'expiresAtMs'>, nowMs: number): boolean {
  return hold.reservationId === null && hold.expiresAtMs > nowMs
}

/** Whether booking `b` of a station blocks a booking at `q.atMs` there: within the window, and a reservation or a hold live at `q.nowMs`. */
export function blocks(b: Booking, q: Pick<BookingQuery, 'atMs' | 'windowMs' | 'nowMs'>): boolean {
  return withinWindow(q.atMs, b.atMs, q.windowMs) && (b.kind === 'reservation' || isLiveHold({ reservationId: null, expiresAtMs: b.expiresAtMs }, q.nowMs))
}

/**
 * The slot rule, as the PostgreSQL store's EXCLUDE constraint reads it: a
 * booking at `atMs` made with window `windowMs` holds the half-open slot
 * `[atMs - windowMs/2, atMs + windowMs/2)` of its station, and two slots
 * conflict when they overlap. With one window for both it is the window rule;
 * bookings made under different windows (the rule changed) can conflict
 * although neither is within the other's window. In SQL: `numrange(at_ms -
 * window_ms / 2.0, at_ms + window_ms / 2.0, '[)') && ...`.
 */
export function slotsOverlap(a: { atMs: number; windowMs: number }, b: { atMs: number; windowMs: number }): boolean {
  return Math.abs(a.atMs - b.atMs) < (a.windowMs + b.windowMs) / 2
}

/**
 * Whether booking `b`, made with window `b.windowMs`, keeps a booking `q` out
 * of its station: a reservation or a hold live at `q.nowMs`, within `q`'s
 * window or with a slot that overlaps `q`'s (slotsOverlap).
 */
export function blocksSlot(b: Booking & { windowMs: number }, q: Pick<BookingQuery, 'atMs' | 'windowMs' | 'nowMs'>): boolean {
  const live = b.kind === 'reservation' || isLiveHold({ reservationId: null, expiresAtMs: b.expiresAtMs }, q.nowMs)
  return live && (withinWindow(q.atMs, b.atMs, q.windowMs) || slotsOverlap(b, q))
}

/**
 * What counts against a vehicle's booking limit (rules.maxReservationsPerVehicle):
 * a reservation whose window has not ended (`atMs >= fromMs`, fromMs = now -
 * windowMs), or a hold live at `nowMs` (isLiveHold). In SQL:
 * `at_ms >= fromMs` for reservations, isLiveHold's clause for holds.
 */
export function isLiveVehicleBooking(
  b: { kind: 'reservation'; atMs: number } | { kind: 'hold'; reservationId: string | null; expiresAtMs: number },
  q: { fromMs: number; nowMs: number },
): boolean {
  return b.kind === 'reservation' ? b.atMs >= q.fromMs : isLiveHold(b, q.nowMs)
}

/**
 * What cancelling all of a vehicle's reservations takes (reservation.cancel
 * `{all: true}`): each of its reservations whose window has not ended (`atMs
 * >= fromMs`, fromMs = now - windowMs) and, given `createdUpToMs`, made at or
 * before it (`createdAtMs <= createdUpToMs`: a repeated request acts on what
 * existed when its id was first seen, not on what was booked since). In SQL:
 * `at_ms >= fromMs AND (createdUpToMs IS NULL OR created_at_ms <= createdUpToMs)`.
 */
export function isCancelledWithAll(r: Pick<ReservationRecord, 'atMs' | 'createdAtMs'>, q: { fromMs: number; createdUpToMs?: number | undefined }): boolean {
  return r.atMs >= q.fromMs && (q.createdUpToMs === undefined || r.createdAtMs <= q.createdUpToMs)
}

/** The limit rule: a vehicle with `live` live bookings may book another only while `live < max`. */
export function atLimit(live: number, max: number): boolean {
  return live >= max
}

/**
 * A hold housekeeping may delete: unconfirmed and expired at `nowMs` (the
 * unconfirmed holds that are not live). In SQL: `reservation_id IS NULL AND expires_at_ms <= nowMs`.
 */
export function isExpiredHold(hold: Pick<HoldRecord, 'reservationId' | 'expiresAtMs'>, nowMs: number): boolean {
  return hold.reservationId === null && hold.expiresAtMs <= nowMs
}

/** What every booking takes from its request and the station picked for it. */
function slot(input: { vehicleId: string; atMs: number; nowMs: number }, pick: BookingCandidate): Pick<ReservationRecord, 'stationId' | 'vehicleId' | 'position' | 'atMs' | 'createdAtMs'> {
  return { stationId: pick.stationId, vehicleId: input.vehicleId, position: { lat: pick.position.lat, lon: pick.position.lon }, atMs: input.atMs, createdAtMs: input.nowMs }
}

/** The reservation `createReservation` inserts once `pick` is known to be free. */
export function newReservation(input: CreateReservationInput, pick: BookingCandidate): ReservationRecord {
  return { reservationId: input.reservationId, ...slot(input, pick), holdId: input.holdId ?? null }
}

/** The hold `placeHold` inserts once `pick` is known to be free. */
export function newHold(input: PlaceHoldInput, pick: BookingCandidate): HoldRecord {
  return {
    holdId: input.holdId,
    ...slot(input, pick),
    expiresAtMs: input.expiresAtMs,
    txId: input.txId,
    txStartedAtMs: input.txStartedAtMs,
    reservationId: null,
  }
}

/** What confirmHold does: answer at once, or insert `reservation` and mark the hold confirmed by it. */
export type ConfirmDecision = { outcome: ConfirmHoldOutcome; insert: null } | { outcome: ConfirmHoldOutcome & { status: 'confirmed' }; insert: ReservationRecord }

/**
 * Decide `confirmHold` for `hold` (null: unknown id), inside the caller's
 * transaction. A confirmed hold answers the reservation made the first time
 * (looked up with `reservationById`; gone, e.g. cancelled: `not_found`); an
 * expired one is not confirmed; a live one becomes a reservation of the same
 * station, vehicle and time, created at `nowMs`.
 */
export function confirmDecision(
  hold: HoldRecord | null,
  input: { reservationId: string; nowMs: number },
  reservationById: (reservationId: string) => ReservationRecord | null,
): ConfirmDecision {
  if (!hold) return { outcome: { status: 'not_found' }, insert: null }
  if (hold.reservationId !== null) {
    const existing = reservationById(hold.reservationId)
    return { outcome: existing ? { status: 'confirmed', reservation: existing } : { status: 'not_found' }, insert: null }
  }
  if (!isLiveHold(hold, input.nowMs)) return { outcome: { status: 'expired', hold }, insert: null }
  const reservation: ReservationRecord = {
    reservationId: input.reservationId,
    ...slot({ vehicleId: hold.vehicleId, atMs: hold.atMs, nowMs: input.nowMs }, hold),
    holdId: hold.holdId,
  }
  return { outcome: { status: 'confirmed', reservation }, insert: reservation }
}
