/** `route.list {destination, index}`: one page of the routes to a destination. */
import { VoltwayError, nearestName, type OpArgs, type OpResult } from '../../protocol/index.js'
import type { RouteCatalog } from './catalog.js'
import type { HubDirectory } from './directory.js'

export async function listRoute(catalog: RouteCatalog, directory: HubDirectory, args: OpArgs<'route.list'>): Promise<OpResult<'route.list'>> {
  const routes = catalog.routesTo(args.destination)
  if (routes.length === 0) {
    // The caller typed a hub id: say which ones this hub can route to, and the likely one.
    const knownHubs = catalog.destinations()
    const near = nearestName(args.destination, knownHubs)
    const known = knownHubs.length > 0 ? `; this hub routes to ${knownHubs.join(', ')}` : '; this hub has no routes to other hubs'
    throw new VoltwayError('NOT_FOUND', `no route to hub ${args.destination}${known}${near ? ` (did you mean ${near}?)` : ''}`, {
      destination: args.destination,
      knownHubs,
      ...(near ? { didYouMean: near } : {}),
    })
  }
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
