/**
 * The operator API under /admin/v1 (operator bearer tokens only) and the
 * enrollment endpoint; enrollment code expiry with an injected clock.
 */
import t from 'tap'
import { AccountService, ENROLLMENT_TTL_MS, isPasswordHash, verifyPassword } from '../hub/accounts/index.js'
import { MemoryStore } from '../hub/store/index.js'
import { VoltwayError } from '../protocol/index.js'
import { manualClock } from './helpers/hw-clock.js'
import { connectVehicle, hubConfig, startTestHub } from './helpers/hub.js'

const OPS = 'operator-token-0123456789'
const PEER = 'peer-accept-token-0123456789'
const config = hubConfig({
  operators: [{ name: 'ops', token: OPS }],
  federation: { peers: [{ hubId: 'other', url: 'http://127.0.0.1:9', token: 'we-send-this-token-0123', acceptToken: PEER }] },
})
const hub = await startTestHub(config, { store: new MemoryStore() })
await hub.accounts.seeded
t.teardown(() => hub.close())

async function call(method: string, path: string, auth: string | null, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = {}
  if (auth !== null) headers.authorization = auth
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${hub.httpUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

const ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/admin/v1/vehicles'],
  ['POST', '/admin/v1/vehicles', { vehicleId: 'VA' }],
  ['POST', '/admin/v1/vehicles/V1/password', {}],
  ['DELETE', '/admin/v1/vehicles/V2'],
  ['GET', '/admin/v1/stations'],
  ['POST', '/admin/v1/stations', { stationId: 'SA', position: { lat: 1, lon: 2 }, powerKw: 22, priceMinorPerKwh: 60 }],
  ['POST', '/admin/v1/stations/FSA-1/password', {}],
  ['POST', '/admin/v1/stations/FSA-1/enrollment'],
  ['DELETE', '/admin/v1/stations/FSA-2'],
]
const REFUSED: Array<[string, string | null]> = [
  ['no Authorization header', null],
  ['an unknown token', 'Bearer not-a-token-of-this-hub'],
  ["a peer's federation token", `Bearer ${PEER}`],
  ['the operator token without the Bearer scheme', OPS],
  ['the operator token as Basic', `Basic ${OPS}`],
]

t.test('every /admin/v1 route refuses a caller without an operator token, and changes nothing', async (t) => {
  const before = await hub.accounts.service.list()
  for (const [method, path, body] of ROUTES) {
    for (const [who, auth] of REFUSED) {
      const r = await call(method, path, auth, body)
      t.equal(r.status, 401, `${method} ${path} with ${who}`)
      t.match(r.json, { error: { code: 'UNAUTHORIZED' } })
    }
  }
  t.same(await hub.accounts.service.list(), before)
})

t.test('with an operator token every /admin/v1 route does its work', async (t) => {
  const expected = [200, 201, 200, 200, 200, 201, 200, 200, 200]
  for (const [i, [method, path, body]] of ROUTES.entries()) {
    const r = await call(method, path, `Bearer ${OPS}`, body)
    t.equal(r.status, expected[i], `${method} ${path}`)
  }
  const ids = (await hub.accounts.service.list()).map((a) => a.id)
  t.same(ids, ['FSA-1', 'SA', 'V1', 'VA'], 'VA and SA added, V2 and FSA-2 removed')
})

t.test('a generated vehicle password is answered once and logs in', async (t) => {
  const r = await call('POST', '/admin/v1/vehicles', `Bearer ${OPS}`, { vehicleId: 'VB' })
  t.equal(r.status, 201)
  const v = await connectVehicle(hub.mqttUrl, hub.hubId, 'VB', r.json.password as string)
  await v.close()
  const list = await call('GET', '/admin/v1/vehicles', `Bearer ${OPS}`)
  t.notOk(JSON.stringify(list.json).includes(r.json.password as string), 'a list never shows a password')
})

t.test('bad bodies and unknown or taken ids are coded errors', async (t) => {
  const auth = `Bearer ${OPS}`
  t.match(await call('POST', '/admin/v1/vehicles', auth, { vehicleId: 'bad id' }), { status: 400, json: { error: { code: 'BAD_REQUEST' } } })
  t.match(await call('POST', '/admin/v1/vehicles', auth, { vehicleId: 'V1' }), { status: 409, json: { error: { code: 'ACCOUNT_EXISTS' } } })
  t.match(await call('POST', '/admin/v1/stations', auth, { stationId: 'V1', position: { lat: 1, lon: 2 }, powerKw: 22, priceMinorPerKwh: 1 }), { status: 409, json: { error: { code: 'ACCOUNT_EXISTS' } } })
  t.match(await call('POST', '/admin/v1/stations', auth, { stationId: 'SX', position: { lat: 100, lon: 2 }, powerKw: 22, priceMinorPerKwh: 1 }), { status: 400 })
  t.match(await call('DELETE', '/admin/v1/vehicles/NOPE', auth), { status: 404, json: { error: { code: 'NOT_FOUND' } } })
  t.match(await call('DELETE', '/admin/v1/stations/V1', auth), { status: 404 }, 'remove checks the kind')
  t.match(await call('POST', '/enroll/v1', null, { stationId: 'SA', code: 'guess' }), { status: 403, json: { error: { code: 'ENROLLMENT_REFUSED', details: { reason: 'unknown' } } } })
})

t.test('an enrollment code expires after 24 h; passwords are stored as scrypt hashes', async (t) => {
  const clock = manualClock()
  const store = new MemoryStore()
  const svc = new AccountService({ store: store.accounts, clock, hubId: 'h' })
  const fresh = await svc.addStation('S1', { position: { lat: 0, lon: 0 }, powerKw: 1, priceMinorPerKwh: 1 })
  clock.advance(ENROLLMENT_TTL_MS)
  const err = await svc.enroll('S1', fresh.code).catch((e: unknown) => e)
  t.ok(err instanceof VoltwayError && err.code === 'ENROLLMENT_REFUSED' && err.details?.reason === 'expired', 'refused as expired')
  t.match((err as Error).message, /expired.*voltway hub station passwd --id S1 --enroll/)
  const again = await svc.issueEnrollment('S1')
  const ok = await svc.enroll('S1', again.code)
  const hash = (await store.accounts.get('S1'))?.passwordHash ?? ''
  t.ok(isPasswordHash(hash) && hash.startsWith('$scrypt$N=16384,r=8,p=1$'))
  t.ok(await verifyPassword(ok.password, hash))
  t.notOk(await verifyPassword(`${ok.password}x`, hash))
})

t.test('a seeded account follows hub.json until it is changed in the store; its hash lands in the store', async (t) => {
  const first = hubConfig()
  const a = await startTestHub(first)
  await a.accounts.seeded
  const row = (await a.accounts.service.list('vehicle')).find((v) => v.id === 'V1')
  t.ok(row?.hasPassword)
  await a.close()
  const edited = hubConfig({ dataDir: first.dataDir, vehicles: [{ vehicleId: 'V1', password: 'edited-in-hub-json' }, { vehicleId: 'V2', password: 'v2-pass' }] })
  const b = await startTestHub(edited)
  t.teardown(() => b.close())
  const v = await connectVehicle(b.mqttUrl, b.hubId, 'V1', 'edited-in-hub-json')
  await v.close()
  await t.rejects(connectVehicle(b.mqttUrl, b.hubId, 'V1', 'v1-pass'), { code: 134 }, 'the old hub.json password no longer works')
  await b.accounts.service.setPassword('vehicle', 'V2', 'set-in-the-store')
  await t.rejects(connectVehicle(b.mqttUrl, b.hubId, 'V2', 'v2-pass'), { code: 134 }, 'once changed in the store, the store wins over hub.json')
  const v2 = await connectVehicle(b.mqttUrl, b.hubId, 'V2', 'set-in-the-store')
  await v2.close()
})

t.test('voltway hub acl names the store-only accounts it cannot write for Mosquitto', async (t) => {
  const { storeOnlyAccountsNote } = await import('../hub/commands/acl.js')
  const { SqliteStore } = await import('../hub/store/index.js')
  const { writeFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const cfg = hubConfig()
  const file = join(cfg.dataDir, '..', `${cfg.hubId}-${process.pid}-acl.json`)
  writeFileSync(file, JSON.stringify(cfg))
  t.equal(await storeOnlyAccountsNote(file), '', 'nothing to say before the hub has a database')
  const store = new SqliteStore({ dataDir: cfg.dataDir })
  await new AccountService({ store: store.accounts, clock: manualClock(), hubId: cfg.hubId }).addVehicle('CLI-ONLY', 'pw-cli-only')
  await store.close()
  t.match(await storeOnlyAccountsNote(file), /Not written: 1 account\(s\) .*\(CLI-ONLY\)/)
})
