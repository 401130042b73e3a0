import type { Command } from 'commander'
import type { OpResult, Route } from '../../protocol/index.js'
import { ARROW, type RpcClient } from '../../protocol/index.js'
import { km, table } from '../output.js'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, idFlag, numberFlag, type CommonFlags } from './common.js'

interface RoutesFlags extends CommonFlags {
  to?: string
  index?: number
  all?: boolean
}

type RouteList = OpResult<'route.list'>

/** Every route to `destination`, paging with `index` until `total`. */
export async function listAllRoutes(rpc: RpcClient, destination: string): Promise<RouteList[]> {
  const first = await rpc.request('route.list', { destination, index: 0 })
  const pages = [first]
  for (let i = 1; i < first.total; i++) pages.push(await rpc.request('route.list', { destination, index: i }))
  return pages
}

export function renderRoutes(pages: RouteList[]): string {
  if (pages.length === 0) return 'no routes'
  const total = pages[0]?.total ?? 0
  const rows = pages.map((p) => [p.index, p.route.routeId, hopsText(p.route), km(p.route.distanceKm)])
  return `${table(['index', 'route', 'hops', 'distance'], rows)}\n${pages.length} of ${total} route${total === 1 ? '' : 's'} to ${pages[0]?.destination ?? '?'}`
}

function hopsText(r: Route): string {
  return r.hops.map((h) => `${h.hubId} (${h.city})`).join(ARROW)
}

export function registerRoutes(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent
    .command('routes')
    .description('route.list: routes from this hub to a destination hub, shortest first')
    .requiredOption('--to <hubId>', 'destination hub')
    .option('--index <n>', 'which route (0 = shortest)', numberFlag({ integer: true, min: 0, max: 1000 }))
    .option('--all', 'page through every route')
  addConnectionOptions(cmd).action(async (flags: RoutesFlags) => {
    await runCheckedWith(cli, flags, () => idFlag(flags.to, '--to'), async (conn, _io, destination) => {
      if (flags.all) {
        const pages = await listAllRoutes(conn.rpc, destination)
        return {
          json: { destination, total: pages[0]?.total ?? 0, routes: pages.map((p) => ({ index: p.index, route: p.route })) },
          human: () => renderRoutes(pages),
        }
      }
      const r = await conn.rpc.request('route.list', { destination, index: flags.index ?? 0 })
      return { json: r, human: () => renderRoutes([r]) }
    })
  })
}
