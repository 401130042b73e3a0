/**
 * The road graph of a federation (docs/configuration.md `federation.links`): hubs are
 * nodes, links undirected weighted edges. A link given twice (in either
 * direction) keeps its shortest distance; self-loops are ignored.
 */
export interface Link {
  from: string
  to: string
  distanceKm: number
}

export class Graph {
  readonly #adj = new Map<string, Map<string, number>>()

  constructor(links: readonly Link[], nodes: readonly string[] = []) {
    for (const n of nodes) this.#node(n)
    for (const l of links) {
      if (l.from === l.to || !(l.distanceKm >= 0)) continue
      this.#edge(l.from, l.to, l.distanceKm)
      this.#edge(l.to, l.from, l.distanceKm)
    }
  }

  has(node: string): boolean {
    return this.#adj.has(node)
  }

  nodes(): string[] {
    return [...this.#adj.keys()].sort()
  }

  /** Neighbours of `node` with the edge length, in id order (so every algorithm here is deterministic). */
  neighbours(node: string): Array<[string, number]> {
    return [...(this.#adj.get(node) ?? new Map<string, number>())].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }

  /** Length of the edge a-b, or undefined. */
  edge(a: string, b: string): number | undefined {
    return this.#adj.get(a)?.get(b)
  }

  /** Length of a path given as node ids; undefined when two consecutive nodes are not linked. */
  pathLength(path: readonly string[]): number | undefined {
    let sum = 0
    for (let i = 1; i < path.length; i++) {
      const d = this.edge(path[i - 1] as string, path[i] as string)
      if (d === undefined) return undefined
      sum += d
    }
    return sum
  }

  /** A copy keeping only the nodes `keep` says yes to. */
  filter(keep: (node: string) => boolean): Graph {
    const links: Link[] = []
    for (const [a, m] of this.#adj) {
      if (!keep(a)) continue
      for (const [b, d] of m) if (a < b && keep(b)) links.push({ from: a, to: b, distanceKm: d })
    }
    return new Graph(links, this.nodes().filter(keep))
  }

  #node(n: string): Map<string, number> {
    let m = this.#adj.get(n)
    if (!m) {
      m = new Map()
      this.#adj.set(n, m)
    }
    return m
  }

  #edge(a: string, b: string, d: number): void {
    const m = this.#node(a)
    const cur = m.get(b)
    if (cur === undefined || d < cur) m.set(b, d)
  }
}
