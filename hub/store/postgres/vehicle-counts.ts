/**
 * The counts of the per-vehicle booking limit (hub/reservations/vehicle-limit.ts)
 * asked during one turn of the event loop, of both kinds, in ONE statement
 * (over ./counts-per-turn.ts): a vehicle's live bookings at this hub
 * (PgReservationStore.countVehicleBookings) and its live entries in the
 * peer-hold ledger (PgTripStore.countPeerVehicleHolds). A booking for a
 * vehicle of this hub asks both at once, so a turn of bookings was two
 * round trips before it booked; it is one.
 */
import { CountsPerTurn } from './counts-per-turn.js'
import type { PgDatabase } from './pool.js'

/** A vehicle's live bookings: reservations whose window has not ended, holds neither confirmed nor expired. */
export interface VehicleBookingsQuery {
  vehicleId: string
  fromMs: number
  nowMs: number
}

/** A vehicle's live peer-hold ledger entries: of peer `peerHubId`, or of any peer when it is not given. */
export interface PeerVehicleHoldsQuery extends VehicleBookingsQuery {
  peerHubId?: string
}

type Question = { kind: 'bookings' | 'peer-holds'; vehicleId: string; peerHubId: string | null; fromMs: number; nowMs: number }

const COUNT_VEHICLES = `
  SELECT q.i, CASE q.kind
    WHEN 'bookings' THEN
          (SELECT COUNT(*) FROM reservations r WHERE r.vehicle_id = q.vehicle_id AND r.at_ms >= q.from_ms)   -- rule: isLiveVehicleBooking (booking-rules.ts)
        + (SELECT COUNT(*) FROM holds h WHERE h.vehicle_id = q.vehicle_id AND h.reservation_id IS NULL AND h.expires_at_ms > q.now_ms)
    ELSE (SELECT COUNT(*) FROM peer_holds p
           WHERE p.vehicle_id = q.vehicle_id AND (q.peer_hub_id IS NULL OR p.peer_hub_id = q.peer_hub_id)
             AND ((p.state = 'placed' AND p.expires_at_ms > q.now_ms) OR (p.state = 'confirmed' AND p.at_ms >= q.from_ms)))   -- rule: isLivePeerHold (peer-hold-rules.ts)
    END AS n
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS q(kind, vehicle_id, peer_hub_id, from_ms, now_ms, i)`

export class PgVehicleCounts {
  readonly #counts: CountsPerTurn<Question>

  constructor(db: PgDatabase) {
    this.#counts = new CountsPerTurn((text, values) => db.query(text, values), COUNT_VEHICLES, (q) => [q.kind, q.vehicleId, q.peerHubId, q.fromMs, q.nowMs])
  }

  bookings(q: VehicleBookingsQuery): Promise<number> {
    return this.#counts.count({ kind: 'bookings', vehicleId: q.vehicleId, peerHubId: null, fromMs: q.fromMs, nowMs: q.nowMs })
  }

  peerHolds(q: PeerVehicleHoldsQuery): Promise<number> {
    return this.#counts.count({ kind: 'peer-holds', vehicleId: q.vehicleId, peerHubId: q.peerHubId ?? null, fromMs: q.fromMs, nowMs: q.nowMs })
  }
}
