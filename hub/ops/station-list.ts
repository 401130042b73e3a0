import type { OpHandler } from '../../protocol/index.js'
import type { HubContext } from './context.js'

/** `station.list`: a page of the hub's stations in id order (args and paging: StationRegistry.page). */
export function stationList(ctx: HubContext): OpHandler<'station.list'> {
  return async (args) => ctx.stations.page(args.after, args.limit)
}
