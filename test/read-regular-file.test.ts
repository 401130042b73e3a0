import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { readProblem, readRegularFile } from '../base/read-regular-file.js'
import { tempDir } from './helpers/hub-config.js'

t.test('reads a regular file whole, up to the limit, and refuses one past it before reading', async (t) => {
  const dir = tempDir()
  const file = join(dir, 'f.json')
  writeFileSync(file, '{"a":1}')
  t.equal(readRegularFile(file, 7).toString('utf8'), '{"a":1}')
  writeFileSync(file, '')
  t.equal(readRegularFile(file, 7).length, 0, 'an empty file is empty')
  writeFileSync(file, 'x'.repeat(8))
  const err = t.throws(() => readRegularFile(file, 7), { code: 'EFBIG' })
  t.equal(readProblem(err), '(too large: larger than 7 bytes)')
})

t.test('a directory, a device and a missing file are refused with their reason', async (t) => {
  const dir = tempDir()
  t.equal(readProblem(t.throws(() => readRegularFile(dir, 100), { code: 'EISDIR' })), '(a directory)')
  t.equal(readProblem(t.throws(() => readRegularFile(join(dir, 'nope'), 100), { code: 'ENOENT' })), '(ENOENT)')
  if (process.platform === 'linux') t.equal(readProblem(t.throws(() => readRegularFile('/dev/zero', 100), { code: 'ENOTREGULAR' })), '(not a regular file: a device, FIFO or socket)')
})
