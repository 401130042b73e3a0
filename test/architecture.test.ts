/**
 * The rooms' boundaries (docs/architecture.md): no import cycle between the
 * folders of hub/, and the lint rules that keep each room to its imports fire.
 */
import { fileURLToPath } from 'node:url'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { ESLint } from 'eslint'
import t from 'tap'
import { cycles, folderGraph } from './helpers/import-graph.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

t.test('no import cycle between the folders of hub/ (each pair of rooms depends one way)', async (t) => {
  const graph = folderGraph(ROOT, 'hub')
  t.ok(graph.has('hub/trips') && graph.has('hub/federation'), 'the graph was read')
  t.same(cycles(graph), [], 'cycles found')
})

t.test('the cycle check names a cycle when there is one', async (t) => {
  const g = new Map([
    ['hub/trips', new Set(['hub/federation', 'hub/store'])],
    ['hub/federation', new Set(['hub/trips'])],
    ['hub/store', new Set<string>()],
  ])
  t.same(cycles(g), ['hub/federation -> hub/trips -> hub/federation'])
})

const eslint = new ESLint({ cwd: ROOT })
/** The boundary tables of eslint.config.js (plain JS, so typed here). */
const lintConfig = '../eslint.config.js'
const { ROOM_IMPORTS, DRIVER_FILES, DRIVER_LIBRARIES } = (await import(lintConfig)) as {
  ROOM_IMPORTS: Readonly<Record<string, readonly string[]>>
  DRIVER_FILES: readonly string[]
  DRIVER_LIBRARIES: readonly string[]
}
const ROOMS = Object.keys(ROOM_IMPORTS)

/** The no-restricted-imports messages for `code` linted as if it were the file `path` (nothing is written). */
async function restricted(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(ROOT, path) })
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

t.test('each room may import only the rooms of its row in ROOM_IMPORTS: a generated file importing any other room is refused by lint', async (t) => {
  let refused = 0
  for (const room of ROOMS) {
    const allowed = ROOM_IMPORTS[room] ?? []
    for (const other of ROOMS.filter((r) => r !== room)) {
      for (const [path, prefix] of [[`${room}/arch-probe.ts`, '..'], [`${room}/deep/arch-probe.ts`, '../..']] as const) {
        const messages = await restricted(path, `import { x } from '${prefix}/${other}/index.js'\nexport { x }\n`)
        if (allowed.includes(other)) t.same(messages, [], `${path} may import ${other}/`)
        else {
          t.equal(messages.length, 1, `${path} importing ${other}/ is refused`)
          refused++
        }
      }
    }
  }
  t.ok(refused >= 30, `${refused} forbidden imports checked`)
})

t.test('the boundaries in words of the issue hold in the table: hub never imports station, vehicle-sim or hw; station never hub or vehicle-sim; vehicle-sim never hub or station; hw and protocol nothing above them', async (t) => {
  const never: Record<string, string[]> = {
    hub: ['station', 'vehicle-sim', 'hw'],
    station: ['hub', 'vehicle-sim'],
    'vehicle-sim': ['hub', 'station'],
    hw: ['protocol', 'hub', 'station', 'vehicle-sim'],
    protocol: ['hub', 'station', 'vehicle-sim', 'hw'],
    base: ['protocol', 'hub', 'station', 'vehicle-sim', 'hw'],
  }
  for (const [room, targets] of Object.entries(never)) {
    for (const target of targets) t.notOk(ROOM_IMPORTS[room]?.includes(target), `${room} -> ${target}`)
  }
})

t.test('hardware libraries only in the hw/ driver files: anywhere else lint refuses them', async (t) => {
  const libs = DRIVER_LIBRARIES.map((l) => l.replace('/*', '/stream'))
  for (const lib of libs) {
    const code = `import x from '${lib}'\nexport { x }\n`
    for (const path of [...ROOMS.map((r) => `${r}/arch-probe.ts`), 'hw/mock-meter.ts', 'station/deep/arch-probe.ts', 'demo/arch-probe.ts', 'cli.ts']) {
      t.equal((await restricted(path, code)).length, 1, `${lib} refused in ${path}`)
    }
    for (const path of DRIVER_FILES) t.same(await restricted(path, code), [], `${lib} allowed in ${path}`)
  }
})

t.test('the code as it is passes the boundary rules', async (t) => {
  const results = await eslint.lintFiles(ROOMS.map((r) => `${r}/**/*.ts`))
  const broken = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => `${r.filePath}: ${m.message}`))
  t.same(broken, [])
})

const DOC = 'docs/architecture.md'
const doc = readFileSync(resolve(ROOT, DOC), 'utf8')
const between = (tag: string): string => {
  const m = new RegExp(`<!-- ${tag}:begin -->([\\s\\S]*?)<!-- ${tag}:end -->`).exec(doc)
  if (!m?.[1]) throw new Error(`${DOC} has no ${tag} block`)
  return m[1]
}
const backticked = (text: string): string[] => [...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1] as string)

t.test('docs/architecture.md: its table of rooms is the lint config\'s ROOM_IMPORTS', async (t) => {
  const rows = between('rooms').split('\n').filter((l) => l.startsWith('| `'))
  const table: Record<string, string[]> = {}
  for (const row of rows) {
    const cells = row.split('|').map((c) => c.trim())
    const room = backticked(cells[1] ?? '')[0]?.replace(/\/$/, '')
    if (room) table[room] = backticked(cells[3] ?? '').map((r) => r.replace(/\/$/, '')).sort()
  }
  const lint = Object.fromEntries(Object.entries(ROOM_IMPORTS).map(([r, may]) => [r, [...may].sort()]))
  t.same(table, lint)
})

t.test('docs/architecture.md: its driver files are the lint config\'s DRIVER_FILES', async (t) => {
  t.same(backticked(between('drivers')).sort(), [...DRIVER_FILES].sort())
})

t.test('docs/architecture.md: every file and folder it names exists', async (t) => {
  const named = [...new Set(backticked(doc).filter((p) => /^(base|hw|protocol|station|hub|vehicle-sim|test|bench|docs|scripts)\//.test(p) || /^[\w.-]+\.(ts|js|md)$/.test(p)))]
  t.ok(named.length > 30, `${named.length} paths named`)
  const missing = named.filter((p) => !p.includes('<') && !existsSync(resolve(ROOT, p)))
  t.same(missing, [], 'named but missing')
})
