import type { OpHandler } from '../../protocol/index.js'
import type { OpServices } from './context.js'

/** Stop one of the caller's sessions (rules in ChargingService.stop). */
export function chargeStop(s: Pick<OpServices, 'charging'>): OpHandler<'charge.stop'> {
  return (args, req) => s.charging.stop(req.vehicleId, args.sessionId)
}
