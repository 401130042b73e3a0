/**
 * The project stands alone: a clone has no ../shared, so nothing may link or
 * refer to it, the docs name the project's own pages, and every relative link
 * in the README and docs/ resolves to a file in the repository.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const SKIP = new Set(['node_modules', '.git', 'dist', '.tap', 'coverage', 'data'])
const TEXT = /\.(ts|js|mjs|cjs|json|md|ya?ml|sh|txt|conf)$|^[^.]+$/

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return []
    const full = join(dir, e.name)
    if (e.isDirectory()) return files(full)
    return e.isFile() && TEXT.test(e.name) ? [full] : []
  })
}

// This file names what it looks for, so it is left out.
const all = files(ROOT).filter((f) => f !== fileURLToPath(import.meta.url))
const SHARED = '../shared'
const SHARED_DOC = new RegExp(`\\bshared/(PROTOCOL|CONFIG|DESIGN|STYLE)\\.md`)

t.test('no file in the repository links or refers to ../shared', async (t) => {
  const offenders = all.filter((f) => {
    const text = readFileSync(f, 'utf8')
    return text.includes(SHARED) || SHARED_DOC.test(text)
  })
  t.same(offenders.map((f) => relative(ROOT, f)), [])
})

t.test("the README, docs and code comments name the project's own protocol, configuration and design pages", async (t) => {
  const docs = all.filter((f) => /\.(md|json|ts|mjs)$/.test(f))
  t.ok(docs.length > 50, 'found the docs and sources')
  const offenders = docs.filter((f) => /\b(PROTOCOL|CONFIG|DESIGN)\.md\b/.test(readFileSync(f, 'utf8')))
  t.same(offenders.map((f) => relative(ROOT, f)), [])
  for (const page of ['protocol.md', 'configuration.md', 'design.md']) t.ok(existsSync(join(ROOT, 'docs', page)), `docs/${page} exists`)
})

t.test('every relative link in the README and docs/ points at a file in the repository', async (t) => {
  const pages = all.filter((f) => f.endsWith('.md') && !relative(ROOT, f).startsWith('test'))
  const broken: string[] = []
  for (const page of pages) {
    const text = readFileSync(page, 'utf8').replace(/```[\s\S]*?```/g, '')
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = (m[1] ?? '').split('#')[0] ?? ''
      if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue
      if (!existsSync(join(dirname(page), target))) broken.push(`${relative(ROOT, page)}: ${m[1] ?? ''}`)
    }
  }
  t.same(broken, [])
})
