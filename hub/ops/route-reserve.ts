import type { OpHandler, OpResult } from '../../protocol/index.js'
import type { KeyedCall } from '../store/index.js'
import type { OpServices } from './context.js'
import { effectId } from '../requests/idempotent.js'

/**
 * Book every hop of a route atomically (Try-Confirm/Cancel over the hubs of
 * the route). The trip id comes from the request (./idempotent.ts): a
 * repeated request is answered with that trip's outcome, never books twice.
 * With `call` (the request-id layer's keyed run, on a store with tripWrites)
 * the trip's first write claims the request id and its last stores this
 * answer, `{trip}` as that layer would store it (status 200).
 */
export function routeReserve(s: Pick<OpServices, 'federation'>): (...a: [...Parameters<OpHandler<'route.reserve'>>, call?: KeyedCall]) => Promise<OpResult<'route.reserve'>> {
  return async (args, req, call) => ({ trip: await s.federation.coordinator.reserve(req.vehicleId, args, { tripId: effectId('t', req), ...(call ? { call } : {}) }) })
}
