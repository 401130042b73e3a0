import { parseTime, type OpHandler } from '../../protocol/index.js'
import { findNearest } from '../stations/index.js'
import type { HubContext } from './context.js'

/** Nearest first, only within `rangeKm`; `free` is about `at`, default now. */
export function stationNearest(ctx: HubContext): OpHandler<'station.nearest'> {
  return async (args, req) => {
    const nowMs = ctx.clock.now()
    const stations = await findNearest(ctx.stations, ctx.store, {
      position: args.position,
      rangeKm: args.rangeKm,
      limit: args.limit,
      atMs: args.at === undefined ? nowMs : parseTime(args.at),
      nowMs,
      windowMs: ctx.rules.windowMs,
      ...(req.receivedAt !== undefined ? { receivedAt: req.receivedAt } : {}),
    })
    return { stations }
  }
}
