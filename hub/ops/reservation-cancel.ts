import type { OpHandler } from '../../protocol/index.js'
import type { HubContext } from './context.js'

/**
 * `{reservationId}`: only the vehicle's own (anything else is NOT_FOUND); `{all: true}`: all its current
 * ones made by the time the request id was first seen (`req.firstSeenAtMs`; none given: now).
 */
export function reservationCancel(ctx: HubContext): OpHandler<'reservation.cancel'> {
  return async (args, req) => ({ cancelled: await ctx.reservations.cancel(req.vehicleId, args, { asOfMs: req.firstSeenAtMs }) })
}
