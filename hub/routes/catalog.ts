/**
 * The routes this hub offers (docs/protocol.md "Routes"): up to 10 simple paths
 * from this hub to each destination, shortest first, over the federation's
 * road graph restricted to hubs this one can book at (itself and its peers).
 * Computed once per destination; the graph does not change while a hub runs.
 */
import { Graph, type Link } from './graph.js'
import { routeIdOf } from './route-id.js'
import { kShortestPaths } from './yen.js'

export const MAX_ROUTES = 10

export interface CatalogRoute {
  routeId: string
  hops: string[]
  distanceKm: number
}

export class RouteCatalog {
  readonly #self: string
  readonly #graph: Graph
  readonly #byDestination = new Map<string, CatalogRoute[]>()
  readonly #byId = new Map<string, CatalogRoute>()
  #complete = false

  /** @param reachable hubs that can be booked (this hub's peers); others are left out of the graph. */
  constructor(selfHubId: string, links: readonly Link[], reachable: readonly string[]) {
    this.#self = selfHubId
    const keep = new Set([selfHubId, ...reachable])
    this.#graph = new Graph(links, [selfHubId]).filter((n) => keep.has(n))
  }

  /** Routes to `destination`, shortest first; empty when it cannot be reached (or is unknown). */
  routesTo(destination: string): CatalogRoute[] {
    let routes = this.#byDestination.get(destination)
    if (!routes) {
      routes = kShortestPaths(this.#graph, this.#self, destination, MAX_ROUTES).map((p) => ({
        routeId: routeIdOf(p.nodes),
        hops: p.nodes,
        distanceKm: Math.round(p.lengthKm * 1000) / 1000,
      }))
      this.#byDestination.set(destination, routes)
      for (const r of routes) this.#byId.set(r.routeId, r)
    }
    return routes
  }

  /** Every hub this one offers routes to, sorted: what a vehicle may pass as a destination. */
  destinations(): string[] {
    return this.#graph.nodes().filter((d) => d !== this.#self && this.routesTo(d).length > 0)
  }

  /** A route offered by `routesTo` of any destination, by id. */
  byId(routeId: string): CatalogRoute | undefined {
    const hit = this.#byId.get(routeId)
    if (hit || this.#complete) return hit
    for (const d of this.#graph.nodes()) this.routesTo(d)
    this.#complete = true
    return this.#byId.get(routeId)
  }
}
