import type { OpHandler } from '../../protocol/index.js'
import type { OpServices } from './context.js'

/** The caller's receipts from this hub and its peers, newest first. */
export function historyList(s: Pick<OpServices, 'federation'>): OpHandler<'history.list'> {
  return (args, req) => s.federation.history(req.vehicleId, args.limit)
}
