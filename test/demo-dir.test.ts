/**
 * `voltway demo --dir DIR` on a directory that holds an earlier run's data:
 * refused before anything starts (the story would find its chargers booked
 * halfway through), and the data, the user's, is left as it was.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from './helpers/hub.js'
import { REPO_ROOT } from './helpers/station-agent.js'

t.test("voltway demo --dir on an earlier run's data: exit 2 with one line saying what to do; nothing written, nothing deleted", async (t) => {
  const dir = tempDir('voltway-demo-dir-')
  mkdirSync(join(dir, 'data', 'feira'), { recursive: true })
  writeFileSync(join(dir, 'data', 'feira', 'hub.sqlite'), 'bookings made by hand')
  const demo = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli.ts'), 'demo', '--dir', dir, '--base-port', '0'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => void (demo.exitCode === null && demo.kill('SIGKILL')))
  let stdout = ''
  let stderr = ''
  demo.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  demo.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const [code] = (await once(demo, 'close')) as [number | null]
  t.equal(code, 2, stderr)
  t.equal(stderr, `demo: --dir ${dir} holds an earlier demo's data (${join(dir, 'data')}): the story would find its chargers booked already; give a new directory, or remove ${join(dir, 'data')} to tell the story again (to go on with that federation, start its parts by hand from the configs in ${dir}, as the README says)\n`)
  t.equal(stdout, '', 'no story began')
  t.same(readdirSync(dir), ['data'], 'no config written')
  t.equal(readFileSync(join(dir, 'data', 'feira', 'hub.sqlite'), 'utf8'), 'bookings made by hand', 'the data is left as it was')
})
