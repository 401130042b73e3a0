/**
 * The project's import graph, read from the sources with a regex (static
 * `import`/`export ... from` and dynamic `import('...')` of relative paths),
 * grouped into rooms, and searched for cycles. Used by the architecture test.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm

/** Every .ts file under `dir` (relative to `root`, `/`-separated), skipping node_modules. */
export function tsFiles(root: string, dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      if (name === 'node_modules') continue
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (name.endsWith('.ts')) out.push(relative(root, p).split(sep).join('/'))
    }
  }
  walk(join(root, dir))
  return out.sort()
}

/** The relative imports of one file, as repo-relative `.ts` paths. */
export function importsOf(root: string, file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] as string
    if (!spec.startsWith('.')) continue
    const abs = resolve(root, dirname(file), spec).replace(/\.js$/, '.ts')
    out.push(relative(root, abs).split(sep).join('/'))
  }
  return out
}

/**
 * Folder-level graph of `dir`: a file in a sub-folder belongs to that
 * sub-folder (`hub/trips/x.ts` -> `hub/trips`, at any depth); a file directly
 * in `dir` is a node of its own (`hub/app.ts`). Edges between different nodes only.
 */
export function folderGraph(root: string, dir: string): Map<string, Set<string>> {
  const nodeOf = (file: string): string | undefined => {
    if (!file.startsWith(`${dir}/`)) return undefined
    const rest = file.slice(dir.length + 1).split('/')
    return rest.length === 1 ? file : `${dir}/${rest[0]}`
  }
  const graph = new Map<string, Set<string>>()
  for (const file of tsFiles(root, dir)) {
    const from = nodeOf(file) as string
    const edges = graph.get(from) ?? new Set<string>()
    graph.set(from, edges)
    for (const target of importsOf(root, file)) {
      const to = nodeOf(target)
      if (to !== undefined && to !== from) edges.add(to)
    }
  }
  return graph
}

/** One cycle per strongly connected component of more than one node, as `a -> b -> a`; empty when the graph is acyclic. */
export function cycles(graph: Map<string, Set<string>>): string[] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[] = []
  const strong = (v: string): void => {
    idx.set(v, index)
    low.set(v, index)
    index++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number))
    }
    if (low.get(v) !== idx.get(v)) return
    const scc: string[] = []
    let w: string
    do {
      w = stack.pop() as string
      onStack.delete(w)
      scc.push(w)
    } while (w !== v)
    if (scc.length > 1) found.push(pathWithin(graph, new Set(scc), v))
  }
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v)
  return found
}

/** A shortest cycle through `start` inside one strongly connected component. */
function pathWithin(graph: Map<string, Set<string>>, scc: Set<string>, start: string): string {
  const prev = new Map<string, string>()
  const queue = [start]
  while (queue.length > 0) {
    const v = queue.shift() as string
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (!scc.has(w)) continue
      if (w === start) {
        const path = [start]
        for (let x = v; x !== start; x = prev.get(x) as string) path.splice(1, 0, x)
        return [...path, start].join(' -> ')
      }
      if (!prev.has(w)) {
        prev.set(w, v)
        queue.push(w)
      }
    }
  }
  return [...scc].join(' <-> ')
}
