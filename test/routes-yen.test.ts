/** Yen's k shortest simple paths, against brute-force enumeration; route ids; the route catalogue. */
import prand from 'pure-rand'
import t from 'tap'
import { Graph, type Link } from '../hub/routes/graph.js'
import { RouteCatalog } from '../hub/routes/catalog.js'
import { routeIdOf } from '../hub/routes/route-id.js'
import { comparePaths, dijkstra, kShortestPaths, type Path } from '../hub/routes/yen.js'
import { ID_PATTERN } from '../protocol/index.js'

/** Every simple path from s to t, by depth-first search, sorted like Yen's output. */
function allSimplePaths(g: Graph, s: string, target: string): Path[] {
  const out: Path[] = []
  const walk = (path: string[], len: number): void => {
    const last = path[path.length - 1] as string
    if (last === target) {
      out.push({ nodes: [...path], lengthKm: len })
      return
    }
    for (const [n, d] of g.neighbours(last)) {
      if (path.includes(n)) continue
      path.push(n)
      walk(path, len + d)
      path.pop()
    }
  }
  if (g.has(s) && g.has(target)) walk([s], 0)
  return out.sort(comparePaths)
}

function randomGraph(seed: number, nodes: number, edgeChance: number, integerWeights: boolean): Graph {
  let rng = prand.xoroshiro128plus(seed)
  const next = (): number => {
    const [v, r] = prand.uniformIntDistribution(0, 1_000_000, rng)
    rng = r
    return v / 1_000_000
  }
  const links: Link[] = []
  for (let a = 0; a < nodes; a++) {
    for (let b = a + 1; b < nodes; b++) {
      if (next() < edgeChance) {
        const w = integerWeights ? 1 + Math.floor(next() * 4) : 1 + next() * 500
        links.push({ from: `n${a}`, to: `n${b}`, distanceKm: w })
      }
    }
  }
  return new Graph(links, Array.from({ length: nodes }, (_, i) => `n${i}`))
}

t.test('Yen gives exactly the k shortest simple paths of brute force (random graphs, distinct weights)', async (t) => {
  let compared = 0
  for (let seed = 1; seed <= 60; seed++) {
    const g = randomGraph(seed, 4 + (seed % 5), 0.5, false)
    const all = allSimplePaths(g, 'n0', 'n1')
    for (const k of [1, 3, 10]) {
      const yen = kShortestPaths(g, 'n0', 'n1', k)
      t.same(yen.map((p) => p.nodes), all.slice(0, k).map((p) => p.nodes), `seed ${seed} k ${k}`)
      compared++
    }
  }
  t.equal(compared, 180)
})

t.test('with ties, Yen still gives the k shortest lengths, simple and distinct paths', async (t) => {
  for (let seed = 100; seed < 140; seed++) {
    const g = randomGraph(seed, 6, 0.6, true)
    const all = allSimplePaths(g, 'n0', 'n5')
    const yen = kShortestPaths(g, 'n0', 'n5', 10)
    t.same(yen.map((p) => p.lengthKm), all.slice(0, 10).map((p) => p.lengthKm), `seed ${seed}: lengths`)
    t.equal(new Set(yen.map((p) => p.nodes.join('>'))).size, yen.length, 'distinct')
    for (const p of yen) {
      t.equal(new Set(p.nodes).size, p.nodes.length, 'simple')
      t.equal(g.pathLength(p.nodes), p.lengthKm, 'length is the sum of its links')
    }
  }
})

t.test('the order is deterministic: ties go to the smaller hop ids', async (t) => {
  const g = new Graph([
    { from: 'a', to: 'c', distanceKm: 1 },
    { from: 'c', to: 'z', distanceKm: 1 },
    { from: 'a', to: 'b', distanceKm: 1 },
    { from: 'b', to: 'z', distanceKm: 1 },
  ])
  t.same(kShortestPaths(g, 'a', 'z', 5).map((p) => p.nodes.join('')), ['abz', 'acz'])
  t.same(dijkstra(g, 'a', 'z')?.nodes, ['a', 'b', 'z'])
})

t.test('edge cases: no path, unknown nodes, source = target, k = 0, duplicate and self links', async (t) => {
  const g = new Graph(
    [
      { from: 'a', to: 'b', distanceKm: 5 },
      { from: 'b', to: 'a', distanceKm: 3 },
      { from: 'a', to: 'a', distanceKm: 1 },
    ],
    ['lonely'],
  )
  t.same(kShortestPaths(g, 'a', 'lonely', 3), [])
  t.same(kShortestPaths(g, 'a', 'nowhere', 3), [])
  t.same(kShortestPaths(g, 'a', 'a', 3), [{ nodes: ['a'], lengthKm: 0 }])
  t.same(kShortestPaths(g, 'a', 'b', 0), [])
  t.same(kShortestPaths(g, 'a', 'b', 3), [{ nodes: ['a', 'b'], lengthKm: 3 }], 'a link given twice keeps its shortest length')
})

t.test('route ids are stable, valid ids, and differ per hop list', async (t) => {
  const id = routeIdOf(['feira', 'salvador'])
  t.match(id, ID_PATTERN)
  t.equal(id, routeIdOf(['feira', 'salvador']))
  t.not(id, routeIdOf(['salvador', 'feira']))
  t.not(routeIdOf(['a-b', 'c']), routeIdOf(['a', 'b-c']))
  t.equal(id, 'rt_' + id.slice(3), 'prefixed')
  t.equal(id.length, 25)
})

t.test('the catalogue lists up to 10 routes shortest first, only over hubs this one can book at', async (t) => {
  const links: Link[] = []
  const hubs = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6']
  for (let i = 0; i < hubs.length; i++) for (let j = i + 1; j < hubs.length; j++) links.push({ from: hubs[i] as string, to: hubs[j] as string, distanceKm: 10 + i + j })
  links.push({ from: 'h1', to: 'stranger', distanceKm: 1 }, { from: 'stranger', to: 'h2', distanceKm: 1 })
  const cat = new RouteCatalog('h0', links, hubs.slice(1))
  const routes = cat.routesTo('h6')
  t.equal(routes.length, 10)
  t.ok(routes.every((r, i) => i === 0 || (routes[i - 1] as { distanceKm: number }).distanceKm <= r.distanceKm), 'shortest first')
  t.ok(routes.every((r) => !r.hops.includes('stranger')), 'a hub that is not a peer is never a hop')
  t.same(routes[0]?.hops, ['h0', 'h6'])
  t.equal(cat.byId(routes[3]?.routeId as string), routes[3])
  t.same(cat.routesTo('stranger'), [])
  t.same(cat.routesTo('h0'), [{ routeId: routeIdOf(['h0']), hops: ['h0'], distanceKm: 0 }], 'a route to itself has one hop')
  const fresh = new RouteCatalog('h0', links, hubs.slice(1))
  t.equal(fresh.byId(routes[5]?.routeId as string)?.routeId, routes[5]?.routeId, 'an id is found without listing first (and is the same on a fresh hub)')
  t.equal(fresh.byId('rt_nope'), undefined)
})
