import type { OpHandler } from '../../protocol/index.js'
import type { OpServices } from './context.js'

/** One of the caller's sessions: state, energy and cost so far. */
export function chargeStatus(s: Pick<OpServices, 'charging'>): OpHandler<'charge.status'> {
  return (args, req) => s.charging.status(req.vehicleId, args.sessionId)
}
