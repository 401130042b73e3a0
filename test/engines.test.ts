/**
 * `npm install` on the Node.js version the README names installs without an
 * engine warning: every package in the lockfile (ours and every dependency,
 * development ones included) accepts the lowest Node.js that package.json's
 * `engines` allows.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import t from 'tap'

const ROOT = join(import.meta.dirname, '..')
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> }

t.test('every locked package accepts the lowest Node.js that package.json allows', async (t) => {
  const lowest = semver.minVersion(pkg.engines.node)?.version
  t.ok(lowest, `engines.node ${pkg.engines.node} has a lowest version`)
  const refused = Object.entries(lock.packages)
    .filter(([path]) => path !== '')
    .flatMap(([path, entry]) => {
      const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined
      return range && lowest && !semver.satisfies(lowest, range) ? [`${path.replace(/^.*node_modules\//, '')} wants node ${range}`] : []
    })
  t.same(refused, [], `every package runs on Node.js ${lowest ?? '?'}`)
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  t.match(readme, new RegExp(`Node\\.js ${(lowest ?? '').replace(/\.0$/, '').replace(/\./g, '\\.')} or newer`), 'the README names the same version')
})
