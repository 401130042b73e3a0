import type { OpHandler } from '../../protocol/index.js'
import type { OpServices } from './context.js'

/** The route to a destination over this hub and its peers, with each hop's hub. */
export function routeList(s: Pick<OpServices, 'federation'>): OpHandler<'route.list'> {
  return (args) => s.federation.listRoute(args)
}
