/**
 * The k shortest simple paths between two nodes (Yen, 1971): the shortest
 * path by Dijkstra, then each next one as the best "spur" deviation from the
 * paths found so far. Federation graphs are small (tens of hubs), so plain
 * arrays beat heaps here. Ties are broken by comparing the hop ids, so the
 * order is the same on every hub and every run.
 */
import type { Graph } from './graph.js'

export interface Path {
  nodes: string[]
  lengthKm: number
}

/** Lengths closer than this are equal (sums of floats in different orders). */
const EPS = 1e-9

export function comparePaths(a: Path, b: Path): number {
  if (Math.abs(a.lengthKm - b.lengthKm) > EPS) return a.lengthKm - b.lengthKm
  return compareNodes(a.nodes, b.nodes)
}

function compareNodes(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a[i] as string
    const y = b[i] as string
    if (x !== y) return x < y ? -1 : 1
  }
  return a.length - b.length
}

/**
 * Shortest path from `source` to `target` avoiding `bannedNodes` and the
 * directed edges in `bannedEdges` (`"a\nb"`), or null.
 */
export function dijkstra(
  graph: Graph,
  source: string,
  target: string,
  bannedNodes: ReadonlySet<string> = new Set(),
  bannedEdges: ReadonlySet<string> = new Set(),
): Path | null {
  if (!graph.has(source) || !graph.has(target) || bannedNodes.has(source) || bannedNodes.has(target)) return null
  const best = new Map<string, Path>([[source, { nodes: [source], lengthKm: 0 }]])
  const done = new Set<string>()
  for (;;) {
    let u: string | undefined
    let up: Path | undefined
    for (const [node, p] of best) {
      if (done.has(node)) continue
      if (!up || comparePaths(p, up) < 0) {
        u = node
        up = p
      }
    }
    if (u === undefined || up === undefined) return null
    if (u === target) return up
    done.add(u)
    for (const [v, d] of graph.neighbours(u)) {
      if (done.has(v) || bannedNodes.has(v) || bannedEdges.has(`${u}\n${v}`)) continue
      const cand: Path = { nodes: [...up.nodes, v], lengthKm: up.lengthKm + d }
      const cur = best.get(v)
      if (!cur || comparePaths(cand, cur) < 0) best.set(v, cand)
    }
  }
}

/** Up to `k` shortest simple paths from `source` to `target`, shortest first. */
export function kShortestPaths(graph: Graph, source: string, target: string, k: number): Path[] {
  if (k <= 0) return []
  const first = dijkstra(graph, source, target)
  if (!first) return []
  const found: Path[] = [first]
  const candidates: Path[] = []
  const seen = new Set<string>([key(first)])

  while (found.length < k) {
    const prev = found[found.length - 1] as Path
    for (let i = 0; i < prev.nodes.length - 1; i++) {
      const spur = prev.nodes[i] as string
      const root = prev.nodes.slice(0, i + 1)
      const bannedEdges = new Set<string>()
      for (const p of found) {
        if (p.nodes.length > i + 1 && sameStart(p.nodes, root)) bannedEdges.add(`${p.nodes[i] as string}\n${p.nodes[i + 1] as string}`)
      }
      const bannedNodes = new Set(root.slice(0, -1))
      const tail = dijkstra(graph, spur, target, bannedNodes, bannedEdges)
      if (!tail) continue
      const nodes = [...root.slice(0, -1), ...tail.nodes]
      const lengthKm = graph.pathLength(nodes)
      if (lengthKm === undefined) continue
      const path = { nodes, lengthKm }
      const id = key(path)
      if (seen.has(id)) continue
      seen.add(id)
      candidates.push(path)
    }
    if (candidates.length === 0) break
    candidates.sort(comparePaths)
    found.push(candidates.shift() as Path)
  }
  return found
}

function sameStart(nodes: readonly string[], root: readonly string[]): boolean {
  for (let j = 0; j < root.length; j++) if (nodes[j] !== root[j]) return false
  return true
}

const key = (p: Path): string => p.nodes.join('\n')
