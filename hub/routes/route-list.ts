/** `route.list {destination, index}`: one page of the routes to a destination. */
import { VoltwayError, type OpArgs, type OpResult } from '../../protocol/index.js'
import type { RouteCatalog } from './catalog.js'
import type { HubDirectory } from './directory.js'

export async function listRoute(catalog: RouteCatalog, directory: HubDirectory, args: OpArgs<'route.list'>): Promise<OpResult<'route.list'>> {
  const routes = catalog.routesTo(args.destination)
  if (routes.length === 0) throw new VoltwayError('NOT_FOUND', `no route to hub ${args.destination}`, { destination: args.destination })
  const route = routes[args.index]
  if (!route) {
    throw new VoltwayError('NOT_FOUND', `there are ${routes.length} routes to ${args.destination}; index ${args.index} is past the end`, {
      destination: args.destination,
      total: routes.length,
    })
  }
  const hops = await Promise.all(route.hops.map((h) => directory.get(h)))
  return {
    destination: args.destination,
    index: args.index,
    total: routes.length,
    route: { routeId: route.routeId, hops, distanceKm: route.distanceKm },
  }
}
