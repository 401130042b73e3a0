/**
 * Schemas of the federation transport itself: path parameters, the empty
 * body and the Idempotency-Key header. Every body schema and type is the
 * protocol's (protocol/schemas/federation.ts).
 */
import { z } from 'zod'
import { Id } from '../../protocol/index.js'

/** The path parameter of the hold and reservation routes. */
export const IdParam = z.object({ id: Id })
export const VehicleParam = z.object({ vehicleId: Id })
export const SessionParam = z.object({ sessionId: Id })

/**
 * The body of a route that takes none: absent (an empty body parses to undefined) or an object,
 * whose fields are ignored as every reader ignores fields it does not know (docs/protocol.md
 * "Conventions"): another vendor's hub may send some.
 */
export const NoBody = z.union([z.undefined(), z.object({})], { error: 'this route takes no body (send none, or {})' })

/** Idempotency-Key header: 1 to 255 visible ASCII characters (the IETF draft's sf-string, without quotes). */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'expected 1 to 255 visible ASCII characters')
