import type { OpHandler } from '../../protocol/index.js'
import type { HubContext } from './context.js'

export function stationList(ctx: HubContext): OpHandler<'station.list'> {
  return async () => ({ stations: ctx.stations.list() })
}
