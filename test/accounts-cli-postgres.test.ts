/**
 * `voltway hub vehicle|station ...` and `voltway hub acl` on a hub whose
 * hub.json says `store: postgres`: they change (and read) the PostgreSQL
 * database the replicas share, not a SQLite file in `dataDir` that no
 * replica reads.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { hubConfig, tempDir } from './helpers/hub.js'
import { runCli } from './helpers/station-agent.js'
import { tempPostgres } from './helpers/store-postgres.js'

const pg = await tempPostgres()
t.teardown(() => pg.dispose())
const schema = pg.schema()
const dir = tempDir('voltway-accounts-pg-')
const dataDir = join(dir, 'data')
const config = {
  ...hubConfig({ dataDir }),
  store: { type: 'postgres', url: pg.url, schema: schema.name },
  mqtt: { url: 'mqtt://127.0.0.1:1', username: 'hub.feira', password: 'hub-pass' },
}
const file = join(dir, 'hub.json')
writeFileSync(file, JSON.stringify(config))
const cli = (args: string[], input?: string) => runCli(['hub', ...args, '--config', file], 30_000, input)

t.test('an account added with the CLI lands in the PostgreSQL store', async (t) => {
  const add = await cli(['vehicle', 'add', '--id', 'V9', '--password-stdin'], 'v9-secret\n')
  t.equal(add.code, 0, add.stderr)
  const st = await cli(['station', 'add', '--id', 'FSA-9', '--lat', '-12.27', '--lon', '-38.97', '--power-kw', '22', '--price-minor-per-kwh', '73'])
  t.equal(st.code, 0, st.stderr)

  const store = await schema.open()
  const ids = (await store.accounts.list()).map((a) => a.id)
  t.ok(ids.includes('V9'), `V9 is in PostgreSQL (found: ${ids.join(', ')})`)
  t.ok(ids.includes('FSA-9'), 'FSA-9 is in PostgreSQL')
  t.notOk(existsSync(join(dataDir, 'hub.sqlite')), 'no SQLite file is made in dataDir')

  const list = await cli(['vehicle', 'list'])
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /^V9 /m, 'list reads PostgreSQL')
})

t.test('hub acl names the PostgreSQL store\'s accounts it cannot write', async (t) => {
  const acl = await runCli(['hub', 'acl', '--config', file, '--out', join(dir, 'mq')])
  t.equal(acl.code, 0, acl.stderr)
  t.match(acl.stdout + acl.stderr, /Not written: .*V9/, 'the account only the store has is named')
})

t.test('with mqtt.mosquitto, hub acl --replicas (adding a replica) keeps the accounts the running hub wrote into the same files', async (t) => {
  const out = join(dir, 'mosq')
  const withSync = {
    ...config,
    mqtt: { ...config.mqtt, mosquitto: { passwordFile: join(out, 'passwd'), aclFile: join(out, 'acl'), pidFile: join(out, 'mosquitto.pid') } },
  }
  const syncFile = join(dir, 'hub-sync.json')
  writeFileSync(syncFile, JSON.stringify(withSync))
  // A password set while mqtt.mosquitto is configured gets its $7$ hash in the store.
  const add = await runCli(['hub', 'vehicle', 'add', '--id', 'V11', '--password-stdin', '--config', syncFile], 30_000, 'v11-secret\n')
  t.equal(add.code, 0, add.stderr)
  const acl = await runCli(['hub', 'acl', '--config', syncFile, '--out', out, '--replicas', 'r1,r2,r3'])
  t.equal(acl.code, 0, acl.stderr)
  const users = readFileSync(join(out, 'passwd'), 'utf8').split('\n').map((l) => l.split(':')[0])
  for (const u of ['hub.feira.r1', 'hub.feira.r3', 'V1', 'V11']) t.ok(users.includes(u), `${u} is in the password file (${users.join(' ')})`)
  t.match(readFileSync(join(out, 'acl'), 'utf8'), /^user V11$/m, 'and in the ACL')
  t.notMatch(acl.stdout, /Not written: .*V11/, 'V11 is not named as left out')
})
