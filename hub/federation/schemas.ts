/**
 * Additions to the federation bodies of docs/protocol.md (new optional fields
 * only, as the protocol allows; docs/federation.md lists them).
 */
import { z } from 'zod'
import { FedHubInfo, FedStations, HoldConfirmation, HoldRequest, Id } from '../../protocol/index.js'

/** The hold request with its additions (holdId, maxWaitMs), defined in protocol/ with the rest of the wire format. */
export const FedHoldRequest = HoldRequest
export type FedHoldRequest = z.infer<typeof FedHoldRequest>

/** The path parameter of the hold and reservation routes. */
export const IdParam = z.object({ id: Id })
export const VehicleParam = z.object({ vehicleId: Id })

/** The body of a route that takes none: absent (an empty body parses to undefined) or `{}`. */
export const NoBody = z.union([z.undefined(), z.strictObject({})], { error: 'this route takes no body (send none, or {})' })

/** Idempotency-Key header: 1 to 255 visible ASCII characters (the IETF draft's sf-string, without quotes). */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'expected 1 to 255 visible ASCII characters')

export type FedHubInfoBody = z.infer<typeof FedHubInfo>
export type FedStationsBody = z.infer<typeof FedStations>
export type HoldConfirmationBody = z.infer<typeof HoldConfirmation>
