import type { OpHandler } from '../../protocol/index.js'
import type { OpServices } from './context.js'
import { effectId } from '../requests/idempotent.js'

/**
 * Start a session for the caller at `args.stationId` (the station is commanded; rules in ChargingService.startFor).
 * The session's id comes from the request (../requests/idempotent.ts): a repeated request answers the session
 * its first run started, never starts a second (at a peer's station, the forwarded start's Idempotency-Key).
 */
export function chargeStart(s: Pick<OpServices, 'charging'>): OpHandler<'charge.start'> {
  return (args, req) => s.charging.start(req.vehicleId, args, { sessionId: effectId('s', req) })
}
