import { parseTime, type OpHandler } from '../../protocol/index.js'
import { findNearest } from '../stations/index.js'
import type { HubContext } from './context.js'

/**
 * Nearest first, only within `rangeKm`; `free` is about `at`, default now. "Now" is when the request
 * came in (RequestContext.receivedAtMs), so the free check may come from a look at the database taken
 * since (BookingQuery.receivedAt) and still judge holds' expiry at an instant that look covers.
 */
export function stationNearest(ctx: HubContext): OpHandler<'station.nearest'> {
  return async (args, req) => {
    const asOfReceipt = req.receivedAt !== undefined && req.receivedAtMs !== undefined
    const nowMs = asOfReceipt ? (req.receivedAtMs as number) : ctx.clock.now()
    const stations = await findNearest(ctx.stations, ctx.store, {
      position: args.position,
      rangeKm: args.rangeKm,
      limit: args.limit,
      atMs: args.at === undefined ? nowMs : parseTime(args.at),
      nowMs,
      windowMs: ctx.rules.windowMs,
      ...(asOfReceipt ? { receivedAt: req.receivedAt as number } : {}),
    })
    return { stations }
  }
}
