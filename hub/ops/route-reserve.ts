import type { OpHandler } from '../../protocol/index.js'
import type { OpServices } from './context.js'
import { effectId } from '../requests/idempotent.js'

/**
 * Book every hop of a route atomically (Try-Confirm/Cancel over the hubs of
 * the route). The trip id comes from the request (./idempotent.ts): a
 * repeated request is answered with that trip's outcome, never books twice.
 */
export function routeReserve(s: Pick<OpServices, 'federation'>): OpHandler<'route.reserve'> {
  return async (args, req) => ({ trip: await s.federation.coordinator.reserve(req.vehicleId, args, { tripId: effectId('t', req) }) })
}
