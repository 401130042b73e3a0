/**
 * In-memory ReservationStore for unit tests. Each method does all its work
 * synchronously before its promise settles, so on the one JS thread every
 * method is atomic, which is what the Store contract asks of a transaction.
 */
import { candidateIds, compareBookings, firstFree } from '../booking.js'
import { confirmDecision, isCancelledWithAll, isExpiredHold, isLiveHold, isLiveVehicleBooking, newHold, newReservation, withinWindow } from '../booking-rules.js'
import { StoreError } from '../errors.js'
import type {
  Booking,
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

export class MemoryReservationStore implements ReservationStore {
  /** One process only: the caller's per-vehicle chain is exact (hub/reservations/vehicle-limit.ts). */
  readonly limitsInBooking = false
  readonly #reservations = new Map<string, ReservationRecord>()
  readonly #holds = new Map<string, HoldRecord>()
  readonly #guard: () => void

  constructor(guard: () => void) {
    this.#guard = guard
  }

  /** Test hook: forget everything. */
  reset(): void {
    this.#reservations.clear()
    this.#holds.clear()
  }

  async createReservation(input: CreateReservationInput): Promise<BookingOutcome<ReservationRecord>> {
    this.#guard()
    if (this.#reservations.has(input.reservationId)) {
      throw new StoreError('DUPLICATE_ID', `reservation ${input.reservationId} exists`)
    }
    const blocking = this.#find({ ...input, stationIds: candidateIds(input.candidates) })
    const pick = firstFree(input.candidates, blocking)
    if (!pick) return { ok: false, conflicts: blocking }
    const record = newReservation(input, pick)
    this.#reservations.set(record.reservationId, record)
    return { ok: true, record: { ...record } }
  }

  async placeHold(input: PlaceHoldInput): Promise<BookingOutcome<HoldRecord>> {
    this.#guard()
    if (this.#holds.has(input.holdId)) throw new StoreError('DUPLICATE_ID', `hold ${input.holdId} exists`)
    const blocking = this.#find({ ...input, stationIds: candidateIds(input.candidates) })
    const pick = firstFree(input.candidates, blocking)
    if (!pick) return { ok: false, conflicts: blocking }
    const record = newHold(input, pick)
    this.#holds.set(record.holdId, record)
    return { ok: true, record: { ...record } }
  }

  async confirmHold(input: { holdId: string; reservationId: string; nowMs: number }): Promise<ConfirmHoldOutcome> {
    this.#guard()
    const hold = this.#holds.get(input.holdId)
    const decision = confirmDecision(hold ? { ...hold } : null, input, (id) => {
      const r = this.#reservations.get(id)
      return r ? { ...r } : null
    })
    if (!decision.insert || !hold) return decision.outcome
    if (this.#reservations.has(decision.insert.reservationId)) {
      throw new StoreError('DUPLICATE_ID', `reservation ${decision.insert.reservationId} exists`)
    }
    this.#reservations.set(decision.insert.reservationId, { ...decision.insert })
    hold.reservationId = decision.insert.reservationId
    return decision.outcome
  }

  async releaseHold(holdId: string): Promise<boolean> {
    this.#guard()
    const hold = this.#holds.get(holdId)
    if (!hold || hold.reservationId !== null) return false
    this.#holds.delete(holdId)
    return true
  }

  async getHold(holdId: string): Promise<HoldRecord | null> {
    this.#guard()
    const hold = this.#holds.get(holdId)
    return hold ? { ...hold } : null
  }

  async getReservation(reservationId: string): Promise<ReservationRecord | null> {
    this.#guard()
    const r = this.#reservations.get(reservationId)
    return r ? { ...r } : null
  }

  async cancelReservation(reservationId: string, vehicleId: string): Promise<boolean> {
    this.#guard()
    const r = this.#reservations.get(reservationId)
    if (!r || r.vehicleId !== vehicleId) return false
    this.#reservations.delete(reservationId)
    return true
  }

  async cancelVehicleReservations(vehicleId: string, fromMs: number, createdUpToMs?: number): Promise<number> {
    this.#guard()
    let n = 0
    for (const r of [...this.#reservations.values()]) {
      if (r.vehicleId === vehicleId && isCancelledWithAll(r, { fromMs, createdUpToMs })) {
        this.#reservations.delete(r.reservationId)
        n++
      }
    }
    return n
  }

  async listVehicleReservations(vehicleId: string, fromMs: number): Promise<ReservationRecord[]> {
    this.#guard()
    return [...this.#reservations.values()]
      .filter((r) => r.vehicleId === vehicleId && r.atMs >= fromMs)
      .sort((a, b) => a.atMs - b.atMs || (a.reservationId < b.reservationId ? -1 : 1))
      .map((r) => ({ ...r }))
  }

  async countVehicleBookings(q: { vehicleId: string; fromMs: number; nowMs: number }): Promise<number> {
    this.#guard()
    let n = 0
    for (const r of this.#reservations.values()) if (r.vehicleId === q.vehicleId && isLiveVehicleBooking({ kind: 'reservation', atMs: r.atMs }, q)) n++
    for (const h of this.#holds.values()) if (h.vehicleId === q.vehicleId && isLiveVehicleBooking({ kind: 'hold', ...h }, q)) n++
    return n
  }

  async findBookings(query: BookingQuery): Promise<Booking[]> {
    this.#guard()
    return this.#find(query)
  }

  async deleteExpiredHolds(nowMs: number): Promise<number> {
    this.#guard()
    let n = 0
    for (const h of [...this.#holds.values()]) {
      if (isExpiredHold(h, nowMs)) {
        this.#holds.delete(h.holdId)
        n++
      }
    }
    return n
  }

  async counts(nowMs: number): Promise<ReservationCounts> {
    this.#guard()
    let activeHolds = 0
    for (const h of this.#holds.values()) if (isLiveHold(h, nowMs)) activeHolds++
    return { reservations: this.#reservations.size, activeHolds }
  }

  #find(q: BookingQuery): Booking[] {
    const ids = new Set(q.stationIds)
    const out: Booking[] = []
    const near = (atMs: number): boolean => withinWindow(atMs, q.atMs, q.windowMs)
    for (const r of this.#reservations.values()) {
      if (ids.has(r.stationId) && near(r.atMs)) {
        out.push({ kind: 'reservation', id: r.reservationId, stationId: r.stationId, vehicleId: r.vehicleId, atMs: r.atMs })
      }
    }
    for (const h of this.#holds.values()) {
      if (ids.has(h.stationId) && isLiveHold(h, q.nowMs) && near(h.atMs)) {
        out.push({
          kind: 'hold',
          id: h.holdId,
          stationId: h.stationId,
          vehicleId: h.vehicleId,
          atMs: h.atMs,
          expiresAtMs: h.expiresAtMs,
          txId: h.txId,
          txStartedAtMs: h.txStartedAtMs,
        })
      }
    }
    return out.sort(compareBookings)
  }
}
