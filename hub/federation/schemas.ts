/**
 * Additions to the federation bodies of PROTOCOL.md (new optional fields
 * only, as the protocol allows; docs/federation.md lists them).
 */
import { z } from 'zod'
import { FedHubInfo, FedStations, HoldConfirmation, HoldRequest, Id } from '../../protocol/index.js'

/** Longest wait-die wait a caller may ask for. */
export const MAX_HOLD_WAIT_MS = 60_000

export const FedHoldRequest = HoldRequest.extend({
  /** The coordinator names the hold, so it can release it before the POST lands. */
  holdId: Id.optional(),
  /** How long the hub may wait for younger transactions' holds (wait-die) before refusing. */
  maxWaitMs: z.number().int().min(0).max(MAX_HOLD_WAIT_MS).optional(),
})
export type FedHoldRequest = z.infer<typeof FedHoldRequest>

/** The path parameter of the hold and reservation routes. */
export const IdParam = z.object({ id: Id })
export const VehicleParam = z.object({ vehicleId: Id })

/** Idempotency-Key header: 1 to 255 visible ASCII characters (the IETF draft's sf-string, without quotes). */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'expected 1 to 255 visible ASCII characters')

export type FedHubInfoBody = z.infer<typeof FedHubInfo>
export type FedStationsBody = z.infer<typeof FedStations>
export type HoldConfirmationBody = z.infer<typeof HoldConfirmation>
