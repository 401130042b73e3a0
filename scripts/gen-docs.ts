/**
 * Generates the protocol reference files in docs/ from the code:
 * docs/schemas/**.json (one JSON Schema per message), docs/openapi.json,
 * docs/error-codes.md, and the ops section of docs/protocol.md.
 *
 *     node --import tsx scripts/gen-docs.ts           # write
 *     node --import tsx scripts/gen-docs.ts --check   # exit 1 listing stale files, write nothing
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderErrorCodesPage } from './docs/error-codes-page.js'
import { buildOpenApi } from './docs/federation-api.js'
import { renderJson } from './docs/json.js'
import { renderMessageSchemas } from './docs/messages.js'
import { withOpsSection } from './docs/protocol-page.js'
import { makeDirectory } from '../base/make-directory.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const DOCS = join(ROOT, 'docs')
const SCHEMAS_DIR = 'schemas'

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** Every generated file: path relative to docs/ -> content. */
function generateDocs(): Map<string, string> {
  const out = new Map<string, string>()
  for (const [file, text] of renderMessageSchemas()) out.set(`${SCHEMAS_DIR}/${file}`, text)
  out.set('openapi.json', renderJson(buildOpenApi()))
  out.set('error-codes.md', renderErrorCodesPage())
  const protocolPage = readOrNull(join(DOCS, 'protocol.md'))
  if (protocolPage === null) throw new Error('docs/protocol.md is missing; it holds the hand-written reference around the generated ops section')
  out.set('protocol.md', withOpsSection(protocolPage))
  return out
}

/** JSON files under docs/schemas/ that no message generates any more. */
function orphans(generated: Map<string, string>): string[] {
  const found: string[] = []
  const walk = (dir: string): void => {
    let entries
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const full = join(dir, e.name)
      if (e.isDirectory()) walk(full)
      else if (e.name.endsWith('.json')) {
        const rel = relative(DOCS, full).split(sep).join('/')
        if (!generated.has(rel)) found.push(rel)
      }
    }
  }
  walk(join(DOCS, SCHEMAS_DIR))
  return found.sort()
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check')
  const unknown = argv.filter((a) => a !== '--check')
  if (unknown.length > 0) {
    process.stderr.write(`usage: gen-docs.ts [--check]\nunknown argument: ${unknown.join(' ')}\n`)
    return 2
  }
  const generated = generateDocs()
  const stale = [...generated].filter(([rel, text]) => readOrNull(join(DOCS, rel)) !== text).map(([rel]) => rel)
  const extra = orphans(generated)

  if (check) {
    if (stale.length === 0 && extra.length === 0) {
      process.stdout.write(`docs are up to date (${generated.size} files)\n`)
      return 0
    }
    for (const rel of stale) process.stderr.write(`stale: docs/${rel}\n`)
    for (const rel of extra) process.stderr.write(`not generated any more: docs/${rel}\n`)
    process.stderr.write('run `npm run docs:gen` and commit the result\n')
    return 1
  }

  for (const rel of stale) {
    const file = join(DOCS, rel)
    makeDirectory(dirname(file))
    writeFileSync(file, generated.get(rel) ?? '')
    process.stdout.write(`wrote docs/${rel}\n`)
  }
  for (const rel of extra) {
    rmSync(join(DOCS, rel))
    process.stdout.write(`removed docs/${rel}\n`)
  }
  process.stdout.write(`${generated.size} files, ${stale.length} written, ${extra.length} removed\n`)
  return 0
}

process.exitCode = main(process.argv.slice(2))
