import type { OpHandler } from '../../protocol/index.js'
import type { HubContext } from './context.js'
import { effectId } from '../requests/idempotent.js'

/** The reservation's id comes from the request (./idempotent.ts): a repeated request finds its booking, never makes a second. */
export function reservationCreate(ctx: HubContext): OpHandler<'reservation.create'> {
  return async (args, req) => ({ reservation: await ctx.reservations.create(req.vehicleId, args, { reservationId: effectId('r', req) }) })
}
