import type { OpHandler } from '../../protocol/index.js'
import type { OpServices } from './context.js'

/** Start a session for the caller at `args.stationId` (the station is commanded; rules in ChargingService.start). */
export function chargeStart(s: Pick<OpServices, 'charging'>): OpHandler<'charge.start'> {
  return (args, req) => s.charging.start(req.vehicleId, args)
}
