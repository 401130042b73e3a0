/**
 * What the real CLI says to a user's mistake: a pipe closed early ends it
 * quietly (no stack trace), a password read from stdin names the command
 * actually run in its example, and flags that exclude each other are refused
 * with exit 2 before anything changes.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import t from 'tap'
import { hubConfig, tempDir } from './helpers/hub.js'
import { LATEST_VERSION, PG_LATEST_VERSION } from '../hub/store/index.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'
import { freePort } from './helpers/net.js'
import { REPO_ROOT, runCli } from './helpers/station-agent.js'

function writeHub(): string {
  const dir = tempDir('voltway-cli-msgs-')
  const file = join(dir, 'hub.json')
  writeFileSync(file, JSON.stringify(hubConfig({ dataDir: join(dir, 'data') })))
  return file
}

t.test('stdout a pipe the reader closed at once (`| head`): exit 0, no stack trace', async (t) => {
  const file = writeHub()
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli.ts'), 'hub', 'vehicle', 'list', '--config', file], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  // The reader goes away before the CLI writes a byte: its write fails EPIPE.
  child.stdout.destroy()
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const [code] = (await once(child, 'close')) as [number | null]
  t.equal(stderr, '', 'nothing on stderr')
  t.equal(code, 0, 'exit 0, as `head` users expect')
})

t.test('a hub whose stdout reader went away goes on serving, says so once on stderr, and still shuts down cleanly on SIGTERM', async (t) => {
  const dir = tempDir('voltway-cli-pipe-')
  const file = join(dir, 'hub.json')
  const httpPort = await freePort()
  writeFileSync(file, JSON.stringify(hubConfig({ dataDir: join(dir, 'data'), http: { host: '127.0.0.1', port: httpPort } })))
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli.ts'), 'hub', '--config', file], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => void child.kill('SIGKILL'))
  // The log reader is gone before the hub writes its first line (a log shipper restarted, `| head -1`).
  child.stdout.destroy()
  let stderr = ''
  const noted = new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
    if (stderr.includes('\n')) resolve()
  }))
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  const first = await Promise.race([noted.then(() => 'noted'), exited.then(() => 'exited')])
  t.equal(first, 'noted', `the hub did not stop: ${stderr}`)
  t.match(stderr, /^hub: stdout failed \(EPIPE\); going on, its lines on stdout are dropped until the hub restarts\n$/)
  let health = 0
  for (let i = 0; i < 100 && health !== 200; i++) {
    health = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.status, () => 0)
    if (health !== 200) await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(health, 200, 'it serves')
  t.equal(child.exitCode, null, 'still running')
  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0, 'its own shutdown, on SIGTERM')
  t.notMatch(stderr, /\n {4}at /, 'no stack trace')
})

t.test('a hub whose stdout reader goes away after the readiness line (a log shipper restarted) says so once on stderr', async (t) => {
  const dir = tempDir('voltway-cli-pipe-')
  const file = join(dir, 'hub.json')
  const httpPort = await freePort()
  writeFileSync(file, JSON.stringify(hubConfig({ dataDir: join(dir, 'data'), http: { host: '127.0.0.1', port: httpPort } })))
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli.ts'), 'hub', '--config', file, '--log-level', 'debug'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => void child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
    if (stdout.includes('"msg":"ready"')) resolve()
  }))
  child.stdout.destroy()
  // The hub logs on: each request is a debug line on the stdout nobody reads now.
  for (let i = 0; i < 50 && !stderr.includes('\n'); i++) {
    await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined)
    await new Promise((r) => setTimeout(r, 50))
  }
  t.match(stderr, /^hub: stdout failed \(EPIPE\); going on, its lines on stdout are dropped until the hub restarts\n$/, 'as docs/operator-guide.md says')
  t.equal(child.exitCode, null, 'still running')
  child.kill('SIGTERM')
  t.equal((await once(child, 'exit'))[0], 0)
})

t.test('a service whose stderr reader goes away notes it on stdout as a JSON log line, so `| jq` reads on', async (t) => {
  const script = `import { endQuietlyOnBrokenPipe, keepRunningWithoutOutput } from ${JSON.stringify(join(REPO_ROOT, 'cli-errors.ts'))}
endQuietlyOnBrokenPipe(); keepRunningWithoutOutput('hub')
setTimeout(() => process.emitWarning('a warning on stderr'), 200)
setTimeout(() => { process.stdout.write('{"level":30,"msg":"next"}\\n'); process.exit(0) }, 500)`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr.destroy()
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  const [code] = (await once(child, 'close')) as [number | null]
  t.equal(code, 0)
  const lines = stdout.trim().split('\n')
  t.equal(lines.length, 2, stdout)
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), `a JSON line: ${line}`)
  t.match(JSON.parse(lines[0] ?? '{}'), { level: 40, msg: /^hub: stderr failed \(EPIPE\); going on/ })
})

t.test('an empty --password-stdin: the example names the command run', async (t) => {
  const file = writeHub()
  for (const kind of ['vehicle', 'station'] as const) {
    const r = await runCli(['hub', kind, 'passwd', '--config', file, '--id', kind === 'vehicle' ? 'V1' : 'FSA-1', '--password-stdin'], 30_000, '')
    t.equal(r.code, 2, r.stderr)
    t.match(r.stderr, new RegExp(`^--password-stdin: .*\\| voltway hub ${kind} passwd `), `hub ${kind} passwd: ${r.stderr}`)
    t.notMatch(r.stderr, /hub vehicle add|\n {4}at /)
  }
})

t.test('station passwd --enroll --password-stdin: refused, exit 2, nothing read or changed', async (t) => {
  const file = writeHub()
  const r = await runCli(['hub', 'station', 'passwd', '--config', file, '--id', 'FSA-1', '--enroll', '--password-stdin'], 30_000, 'new-secret\n')
  t.equal(r.code, 2, r.stderr)
  t.match(r.stderr, /^voltway hub station passwd: --password-stdin and --enroll exclude each other: .*give one/m, r.stderr)
  t.equal(r.stdout, '', 'no enrollment code issued')
})

t.test('a PostgreSQL server that does not answer: the line starts with the --config path, exit 1 (systemd retries)', async (t) => {
  const dir = tempDir('voltway-cli-msgs-pg-')
  const file = join(dir, 'my-hub.json')
  writeFileSync(file, JSON.stringify({ ...hubConfig({ dataDir: join(dir, 'data') }), store: { type: 'postgres', url: `postgres://postgres@127.0.0.1:${await freePort()}/x` } }))
  const r = await runCli(['hub', 'vehicle', 'list', '--config', file])
  t.equal(r.code, 1, r.stderr)
  t.equal(r.stderr.split('\n')[0]?.indexOf(`error: ${file}: store "postgres://`), 0, r.stderr)
  t.notMatch(r.stderr, /(^|\s)hub\.json:/, "no generic hub.json label")
})

t.test('a hub.sqlite a newer Voltway migrated: exit 2, the line starts with the --config path and names the dataDir, the hint says what to run or restore, the file is left alone', async (t) => {
  const dir = tempDir('voltway-cli-msgs-new-')
  const file = join(dir, 'my-hub.json')
  writeFileSync(file, JSON.stringify(hubConfig({ dataDir: join(dir, 'data') })))
  t.equal((await runCli(['hub', 'vehicle', 'list', '--config', file])).code, 0, 'the database is created')
  const db = new Database(join(dir, 'data', 'hub.sqlite'))
  db.pragma(`user_version = ${LATEST_VERSION + 1}`)
  db.close()
  for (const args of [['hub', 'vehicle', 'list'], ['hub'], ['hub', 'acl', '--out', join(dir, 'mosquitto')]]) {
    const r = await runCli([...args, '--config', file])
    t.equal(r.code, 2, `${args.join(' ')}: exit 2, systemd does not start it again (${r.stderr})`)
    t.equal(
      r.stderr.trim(),
      `${file}: dataDir "${join(dir, 'data')}": database schema version ${LATEST_VERSION + 1} is newer than this Voltway knows (${LATEST_VERSION}); a newer Voltway migrated it: run that release (or a later one) again, or restore the backup taken before the upgrade (docs/operator-guide.md, "The database and backups")`,
    )
  }
  const after = new Database(join(dir, 'data', 'hub.sqlite'), { readonly: true })
  t.equal(after.pragma('user_version', { simple: true }), LATEST_VERSION + 1, 'the file is left as it was')
  after.close()
  t.notOk(existsSync(join(dir, 'mosquitto')), 'hub acl wrote no Mosquitto file: files from hub.json alone would drop the store\'s accounts')
})

t.test('hub acl on a PostgreSQL store a newer Voltway migrated: exit 2 naming the store, no file written', async (t) => {
  const skip = await postgresSkipReason()
  if (skip) {
    if (process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${skip}`)
    t.comment(`SKIP: ${skip}`)
    return
  }
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const schema = pg.schema()
  t.teardown(() => schema.dispose())
  await (await schema.open()).close()
  await pg.sql(`INSERT INTO ${schema.name}.voltway_schema (version, name) VALUES ($1, 'from the future')`, [PG_LATEST_VERSION + 1])
  const dir = tempDir('voltway-cli-msgs-pgnew-')
  const file = join(dir, 'my-hub.json')
  writeFileSync(file, JSON.stringify({ ...hubConfig({ dataDir: join(dir, 'data') }), store: { type: 'postgres', url: pg.url, schema: schema.name }, mqtt: { url: 'mqtt://127.0.0.1:1883' } }))
  const r = await runCli(['hub', 'acl', '--out', join(dir, 'mosquitto'), '--config', file])
  t.equal(r.code, 2, r.stderr)
  t.match(r.stderr, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: store "postgres://[^"]+" \\(schema ${schema.name}\\): database schema version ${PG_LATEST_VERSION + 1} is newer than this Voltway knows`))
  t.equal(r.stdout, '', 'nothing reported written')
  t.notOk(existsSync(join(dir, 'mosquitto')), 'and nothing written')
})
