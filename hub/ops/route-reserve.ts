import type { OpHandler } from '../../protocol/index.js'
import type { OpServices } from './context.js'

/** Book every hop of a route atomically (Try-Confirm/Cancel over the hubs of the route). */
export function routeReserve(s: Pick<OpServices, 'federation'>): OpHandler<'route.reserve'> {
  return async (args, req) => ({ trip: await s.federation.coordinator.reserve(req.vehicleId, args) })
}
