import type { OpHandler } from '../../protocol/index.js'
import type { OpServices } from './context.js'

/** Cancel one of the caller's trips: every hop's reservation, at every hub. */
export function tripCancel(s: Pick<OpServices, 'federation'>): OpHandler<'trip.cancel'> {
  return async (args, req) => ({ cancelled: await s.federation.coordinator.cancel(req.vehicleId, args.tripId) })
}
