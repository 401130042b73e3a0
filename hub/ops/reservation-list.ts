import type { OpHandler } from '../../protocol/index.js'
import type { HubContext } from './context.js'

export function reservationList(ctx: HubContext): OpHandler<'reservation.list'> {
  return async (_args, req) => ({ reservations: await ctx.reservations.list(req.vehicleId) })
}
