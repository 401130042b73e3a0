import type { OpHandler, OpResult } from '../../protocol/index.js'
import type { KeyedCall, ReservationRecord } from '../store/index.js'
import type { HubContext } from './context.js'
import { effectId } from '../requests/idempotent.js'

/**
 * The reservation's id comes from the request (./idempotent.ts): a repeated request finds its booking, never makes a second.
 * With `call` (the request-id layer's keyed run, on a store with keyedReservations) the booking's write claims the request id
 * and stores this answer, the JSON of the result as that layer would store it (status 200).
 */
export function reservationCreate(ctx: HubContext): (...a: [...Parameters<OpHandler<'reservation.create'>>, call?: KeyedCall]) => Promise<OpResult<'reservation.create'>> {
  return async (args, req, call) => {
    const keyed = call && { call, status: 200, body: (r: ReservationRecord) => JSON.stringify({ reservation: ctx.reservations.toWire(r) }) }
    return { reservation: await ctx.reservations.create(req.vehicleId, args, { reservationId: effectId('r', req), ...(keyed ? { keyed } : {}) }) }
  }
}
