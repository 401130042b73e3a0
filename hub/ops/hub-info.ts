import type { OpHandler } from '../../protocol/index.js'
import type { HubContext } from './context.js'

export function hubInfo(ctx: HubContext): OpHandler<'hub.info'> {
  return async () => ({
    hubId: ctx.config.hubId,
    name: ctx.config.name,
    city: ctx.config.city,
    position: { ...ctx.config.position },
    stations: ctx.stations.size,
    peers: ctx.config.federation.peers.map((p) => p.hubId),
  })
}
