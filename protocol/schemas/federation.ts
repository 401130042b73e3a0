/** HTTP federation bodies (docs/protocol.md "HTTP federation between hubs"). */
import { z } from 'zod'
import { Id, Position, RangeKm, Time, queryNumber } from './common.js'
import { NearStation, Receipt, SessionStart, SessionStatus } from './entities.js'

export const FedHubInfo = z.object({
  hubId: Id,
  name: z.string(),
  city: z.string(),
  position: Position,
  stations: z.number().int().nonnegative(),
})
export type FedHubInfo = z.infer<typeof FedHubInfo>

export const FedStationsQuery = z.object({
  lat: queryNumber(Position.shape.lat),
  lon: queryNumber(Position.shape.lon),
  rangeKm: queryNumber(RangeKm),
  at: Time.optional(),
  limit: queryNumber(z.number().int().min(1).max(100).default(5)),
})

export const FedStations = z.object({ stations: z.array(NearStation) })
export type FedStations = z.infer<typeof FedStations>

/** Longest wait-die wait a caller may ask a hub for. */
export const MAX_HOLD_WAIT_MS = 60_000

export const HoldRequest = z.object({
  txId: Id,
  txStartedAt: Time,
  vehicleId: Id,
  at: Time,
  from: Position,
  rangeKm: RangeKm,
  ttlSeconds: z.number().int().min(1).max(3600),
  // Additions (docs/federation.md): the coordinator names the hold, so it can release it before the POST lands,
  holdId: Id.optional(),
  // and bounds how long the hub may wait for younger transactions' holds (wait-die) before refusing.
  maxWaitMs: z.number().int().min(0).max(MAX_HOLD_WAIT_MS).optional(),
})
export type HoldRequest = z.infer<typeof HoldRequest>

export const Hold = z.object({
  holdId: Id,
  stationId: Id,
  position: Position,
  at: Time,
  expiresAt: Time,
})
export type Hold = z.infer<typeof Hold>

export const HoldConfirmation = z.object({
  reservationId: Id,
  holdId: Id,
  stationId: Id,
  position: Position,
  at: Time,
})
export type HoldConfirmation = z.infer<typeof HoldConfirmation>

export const FedReceipts = z.object({ receipts: z.array(Receipt) })

export const FedErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
})

// Roaming (docs/protocol.md "Roaming"): the vehicle's home hub asks the station's hub.

/** `POST /federation/v1/sessions`: start a session for the calling peer's vehicle. Unknown fields are ignored, as everywhere. */
export const FedSessionStart = z.object({
  vehicleId: Id,
  stationId: Id,
  reservationId: Id.optional(),
  maxWh: z.number().int().positive().max(1_000_000).optional(),
})
export type FedSessionStart = z.infer<typeof FedSessionStart>

export const FedSessionStarted = z.object({ session: SessionStart.extend({ hubId: Id }) })
export type FedSessionStarted = z.infer<typeof FedSessionStarted>

/** `GET /federation/v1/sessions/{sessionId}`. */
export const FedSession = z.object({ session: SessionStatus })
export type FedSession = z.infer<typeof FedSession>

/** `POST /federation/v1/sessions/{sessionId}/stop`. */
export const FedReceipt = z.object({ receipt: Receipt })
export type FedReceipt = z.infer<typeof FedReceipt>
