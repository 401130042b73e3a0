/**
 * Rows of the hub's tables as the SQLite and PostgreSQL stores read them
 * (both schemas use the same table and column names; see the two
 * migrations.ts), and the records they become. One home, so the two stores
 * cannot drift in how they read a column.
 */
import { Receipt, type Position } from '../../protocol/index.js'
import type { AccountKind, AccountRecord } from './accounts.js'
import type { ReceiptRecord, RoamingSessionRecord, SessionRecord, SessionState, StoredStationEvent } from './charging.js'
import type { PeerHoldRecord, PeerHoldState, ReleaseTask, TripLegRecord, TripRecord, TripState } from './trips.js'
import type { Booking, HoldRecord, ReservationRecord } from './types.js'

export interface ReservationRow {
  reservation_id: string
  station_id: string
  vehicle_id: string
  lat: number
  lon: number
  at_ms: number
  created_at_ms: number
  hold_id: string | null
}
export interface HoldRow {
  hold_id: string
  station_id: string
  vehicle_id: string
  lat: number
  lon: number
  at_ms: number
  expires_at_ms: number
  tx_id: string
  tx_started_at_ms: number
  created_at_ms: number
  reservation_id: string | null
}
export interface BookingRow {
  kind: 'reservation' | 'hold'
  id: string
  station_id: string
  vehicle_id: string
  at_ms: number
  expires_at_ms: number | null
  tx_id: string | null
  tx_started_at_ms: number | null
}
export function toReservation(r: ReservationRow): ReservationRecord {
  return {
    reservationId: r.reservation_id,
    stationId: r.station_id,
    vehicleId: r.vehicle_id,
    position: { lat: r.lat, lon: r.lon },
    atMs: r.at_ms,
    createdAtMs: r.created_at_ms,
    holdId: r.hold_id,
  }
}
export function toHold(r: HoldRow): HoldRecord {
  return {
    holdId: r.hold_id,
    stationId: r.station_id,
    vehicleId: r.vehicle_id,
    position: { lat: r.lat, lon: r.lon },
    atMs: r.at_ms,
    expiresAtMs: r.expires_at_ms,
    txId: r.tx_id,
    txStartedAtMs: r.tx_started_at_ms,
    createdAtMs: r.created_at_ms,
    reservationId: r.reservation_id,
  }
}
export function toBooking(r: BookingRow): Booking {
  if (r.kind === 'reservation') {
    return { kind: 'reservation', id: r.id, stationId: r.station_id, vehicleId: r.vehicle_id, atMs: r.at_ms }
  }
  return {
    kind: 'hold',
    id: r.id,
    stationId: r.station_id,
    vehicleId: r.vehicle_id,
    atMs: r.at_ms,
    expiresAtMs: r.expires_at_ms ?? 0,
    txId: r.tx_id ?? '',
    txStartedAtMs: r.tx_started_at_ms ?? 0,
  }
}
export interface TripRow {
  trip_id: string
  vehicle_id: string
  route_id: string
  tx_started_at_ms: number
  attempt: number
  state: TripState
  legs_json: string
  failure_json: string | null
  created_at_ms: number
  updated_at_ms: number
}
export interface ReleaseRow {
  release_id: string
  trip_id: string
  hub_id: string
  kind: 'hold' | 'reservation'
  target_id: string
  vehicle_id: string
  idempotency_key: string
  until_ms: number | null
  attempts: number
  next_at_ms: number
}
export interface PeerHoldRow {
  hold_id: string
  peer_hub_id: string
  state: PeerHoldState
  tx_id: string | null
  vehicle_id: string | null
  station_id: string | null
  lat: number | null
  lon: number | null
  at_ms: number | null
  expires_at_ms: number | null
  reservation_id: string | null
  created_at_ms: number
  updated_at_ms: number
}
export function toTrip(r: TripRow): TripRecord {
  return {
    tripId: r.trip_id,
    vehicleId: r.vehicle_id,
    routeId: r.route_id,
    txStartedAtMs: r.tx_started_at_ms,
    attempt: r.attempt,
    state: r.state,
    legs: JSON.parse(r.legs_json) as TripLegRecord[],
    failure: r.failure_json === null ? null : (JSON.parse(r.failure_json) as { failedHop: number; reason: string }),
    createdAtMs: r.created_at_ms,
    updatedAtMs: r.updated_at_ms,
  }
}
export function toRelease(r: ReleaseRow): ReleaseTask {
  return {
    releaseId: r.release_id,
    tripId: r.trip_id,
    hubId: r.hub_id,
    kind: r.kind,
    targetId: r.target_id,
    vehicleId: r.vehicle_id,
    idempotencyKey: r.idempotency_key,
    untilMs: r.until_ms,
    attempts: r.attempts,
    nextAtMs: r.next_at_ms,
  }
}
export function toPeerHold(r: PeerHoldRow): PeerHoldRecord {
  const position: Position | null = r.lat === null || r.lon === null ? null : { lat: r.lat, lon: r.lon }
  return {
    holdId: r.hold_id,
    peerHubId: r.peer_hub_id,
    state: r.state,
    txId: r.tx_id,
    vehicleId: r.vehicle_id,
    stationId: r.station_id,
    position,
    atMs: r.at_ms,
    expiresAtMs: r.expires_at_ms,
    reservationId: r.reservation_id,
    createdAtMs: r.created_at_ms,
    updatedAtMs: r.updated_at_ms,
  }
}
export interface SessionRow {
  session_id: string
  station_id: string
  vehicle_id: string
  reservation_id: string | null
  state: SessionState
  started_at_ms: number
  max_wh: number | null
  meter_start_wh: number | null
  meter_stop_wh: number | null
  ended_at_ms: number | null
  stop_reason: string | null
  station_started_at: string | null
  station_ended_at: string | null
  price_minor_per_kwh: number
  currency: string
}
export interface ReceiptRow {
  session_id: string
  station_id: string
  vehicle_id: string
  started_at_ms: number
  ended_at_ms: number
  energy_wh: number
  price_minor_per_kwh: number
  cost_minor: number
  currency: string
}
export const toSession = (r: SessionRow): SessionRecord => ({
  sessionId: r.session_id,
  stationId: r.station_id,
  vehicleId: r.vehicle_id,
  reservationId: r.reservation_id,
  state: r.state,
  startedAtMs: r.started_at_ms,
  maxWh: r.max_wh,
  meterStartWh: r.meter_start_wh,
  meterStopWh: r.meter_stop_wh,
  endedAtMs: r.ended_at_ms,
  stopReason: r.stop_reason,
  stationStartedAt: r.station_started_at,
  stationEndedAt: r.station_ended_at,
  priceMinorPerKwh: r.price_minor_per_kwh,
  currency: r.currency,
})
export const toReceipt = (r: ReceiptRow): ReceiptRecord => ({
  sessionId: r.session_id,
  stationId: r.station_id,
  vehicleId: r.vehicle_id,
  startedAtMs: r.started_at_ms,
  endedAtMs: r.ended_at_ms,
  energyWh: r.energy_wh,
  priceMinorPerKwh: r.price_minor_per_kwh,
  costMinor: r.cost_minor,
  currency: r.currency,
})

/** A `station_events` row ('' is the epoch-less stream). */
export interface EventRow {
  station_id: string
  epoch: string
  seq: number
  type: string
  body: string
  received_at_ms: number
}

export const toEvent = (r: EventRow): StoredStationEvent => ({
  stationId: r.station_id,
  epoch: r.epoch === '' ? null : r.epoch,
  seq: r.seq,
  type: r.type,
  body: r.body,
  receivedAtMs: r.received_at_ms,
})

/** A `roaming_sessions` row. */
export interface RoamingRow {
  session_id: string
  hub_id: string
  vehicle_id: string
  station_id: string
  started_at_ms: number
  meter_start_wh: number
  state: RoamingSessionRecord['state']
  stop_attempts: number
  next_stop_at_ms: number | null
  receipt: string | null
  fail_reason: string | null
}

/** A stored receipt is the peer's answer, validated when it arrived; it is parsed again, never trusted blindly. */
export const roamingReceipt = (text: string): Receipt => Receipt.parse(JSON.parse(text))

export const toRoamingSession = (r: RoamingRow): RoamingSessionRecord => ({
  sessionId: r.session_id,
  hubId: r.hub_id,
  vehicleId: r.vehicle_id,
  stationId: r.station_id,
  startedAtMs: r.started_at_ms,
  meterStartWh: r.meter_start_wh,
  state: r.state,
  stopAttempts: r.stop_attempts,
  nextStopAtMs: r.next_stop_at_ms,
  receipt: r.receipt === null ? null : roamingReceipt(r.receipt),
  failReason: r.fail_reason,
})

/** An `accounts` row. */
export interface AccountRow {
  id: string
  kind: AccountKind
  password_hash: string | null
  broker_hash: string | null
  lat: number | null
  lon: number | null
  power_kw: number | null
  price_minor_per_kwh: number | null
  created_at_ms: number
  updated_at_ms: number
}

export const ACCOUNT_COLUMNS = 'id, kind, password_hash, lat, lon, power_kw, price_minor_per_kwh, created_at_ms, updated_at_ms, broker_hash'

export function toAccount(r: AccountRow): AccountRecord {
  const station =
    r.kind === 'station' && r.lat !== null && r.lon !== null && r.power_kw !== null && r.price_minor_per_kwh !== null
      ? { position: { lat: r.lat, lon: r.lon }, powerKw: r.power_kw, priceMinorPerKwh: r.price_minor_per_kwh }
      : null
  return { id: r.id, kind: r.kind, passwordHash: r.password_hash, brokerHash: r.broker_hash, station, createdAtMs: r.created_at_ms, updatedAtMs: r.updated_at_ms }
}


/** An `idempotency_keys` row as a claim reads it. */
export interface IdempotencyRow {
  fingerprint: string
  state: 'running' | 'done'
  status: number | null
  body: string | null
  lease_until_ms: number
  owner: string
  created_at_ms: number
}
