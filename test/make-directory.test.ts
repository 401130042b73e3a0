import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { makeDirectory } from '../base/make-directory.js'
import { tempDir } from './helpers/hub-config.js'

t.test('makes a directory with its missing parents, and leaves one that is there', async (t) => {
  const root = tempDir()
  const deep = join(root, 'a', 'b', 'c')
  makeDirectory(deep, 0o700)
  t.ok(statSync(deep).isDirectory())
  t.equal(statSync(join(root, 'a')).mode & 0o777, 0o700 & ~process.umask(), 'the mode applies to each directory made')
  makeDirectory(deep)
  mkdirSync(join(root, 'x'))
  makeDirectory(join(root, 'x'))
  t.ok(statSync(join(root, 'x')).isDirectory())
})

t.test('a file in the way is EEXIST or ENOTDIR, not a directory', async (t) => {
  const root = tempDir()
  writeFileSync(join(root, 'f'), '')
  t.throws(() => makeDirectory(join(root, 'f')), { code: 'EEXIST' })
  t.throws(() => makeDirectory(join(root, 'f', 'sub')), { code: 'ENOTDIR' })
})

// Node's mkdirSync(path, { recursive: true }) never returns here: procfs answers ENOENT for a new
// directory although its parent exists (a hub.json dataDir or an `acl --out` typed under /proc hung).
t.test('a file system that refuses new directories with ENOENT fails at once', { skip: process.platform !== 'linux' && 'procfs is Linux' }, async (t) => {
  t.throws(() => makeDirectory('/proc/voltway-nonexistent'), { code: 'ENOENT' })
  t.throws(() => makeDirectory('/proc/voltway-nonexistent/deeper'), { code: 'ENOENT' })
})
