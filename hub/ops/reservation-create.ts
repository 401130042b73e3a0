import type { OpHandler } from '../../protocol/index.js'
import type { HubContext } from './context.js'

export function reservationCreate(ctx: HubContext): OpHandler<'reservation.create'> {
  return async (args, req) => ({ reservation: await ctx.reservations.create(req.vehicleId, args) })
}
