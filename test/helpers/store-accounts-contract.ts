/**
 * The AccountsStore contract (hub/store/accounts.ts), as tests every Store
 * implementation runs (test/store-memory.test.ts, test/store-sqlite.test.ts).
 */
import type { Test } from 'tap'
import { codeDigest, type NewAccount, type Store } from '../../hub/store/index.js'

export interface AccountsHarness {
  store: Store
  dispose(): Promise<void>
}

const T0 = Date.parse('2026-11-30T12:00:00Z')
const spec = { position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73 }
export const vehicle = (id: string, hash = '$scrypt$x'): NewAccount => ({ id, kind: 'vehicle', passwordHash: hash, station: null, nowMs: T0 })
export const stationAccount = (id: string): NewAccount => ({ id, kind: 'station', passwordHash: null, station: spec, nowMs: T0 })

export function accountsStoreContract(tap: Test, name: string, open: () => Promise<AccountsHarness>): void {
  const withStore = (title: string, fn: (t: Test, s: Store) => Promise<void>): void => {
    void tap.test(`${name} accounts: ${title}`, async (t) => {
      const h = await open()
      t.teardown(() => h.dispose())
      await fn(t, h.store)
    })
  }

  withStore('an id names one account whatever its kind: a second add is refused and changes nothing', async (t, s) => {
    t.equal(await s.accounts.add(vehicle('X1', 'h1')), true)
    const v = await s.accounts.version()
    t.equal(await s.accounts.add(vehicle('X1', 'h2')), false)
    t.equal(await s.accounts.add(stationAccount('X1')), false)
    t.equal((await s.accounts.get('X1'))?.passwordHash, 'h1')
    t.equal(await s.accounts.version(), v, 'a refused add leaves the version')
  })

  withStore('every change increases the version; reads and refused writes do not', async (t, s) => {
    const v0 = await s.accounts.version()
    await s.accounts.add(vehicle('V1'))
    const v1 = await s.accounts.version()
    t.ok(v1 > v0)
    await s.accounts.setPassword('V1', 'vehicle', 'h2', T0 + 1)
    const v2 = await s.accounts.version()
    t.ok(v2 > v1)
    t.equal(await s.accounts.setPassword('V1', 'station', 'h3', T0 + 2), false, 'setPassword checks the kind')
    t.equal(await s.accounts.remove('V1', 'station'), false, 'remove checks the kind')
    await s.accounts.list()
    t.equal(await s.accounts.version(), v2)
    t.equal(await s.accounts.remove('V1', 'vehicle'), true)
    t.ok((await s.accounts.version()) > v2)
    t.equal(await s.accounts.get('V1'), null)
  })

  withStore('list is by id, filtered by kind, with station specs and times', async (t, s) => {
    await s.accounts.add(vehicle('B'))
    await s.accounts.add(stationAccount('A'))
    await s.accounts.setPassword('B', 'vehicle', 'hb', T0 + 5)
    t.same((await s.accounts.list()).map((a) => a.id), ['A', 'B'])
    t.same(await s.accounts.list('station'), [{ id: 'A', kind: 'station', passwordHash: null, brokerHash: null, station: spec, createdAtMs: T0, updatedAtMs: T0 }])
    t.same(await s.accounts.list('vehicle'), [{ id: 'B', kind: 'vehicle', passwordHash: 'hb', brokerHash: null, station: null, createdAtMs: T0, updatedAtMs: T0 + 5 }])
  })

  withStore('an enrollment code enrolls its station once, before it expires, and sets the password with it', async (t, s) => {
    await s.accounts.add(stationAccount('S1'))
    t.equal(await s.accounts.issueEnrollment({ stationId: 'S1', codeDigest: codeDigest('c1'), expiresAtMs: T0 + 1000, nowMs: T0 }), true)
    t.equal(await s.accounts.issueEnrollment({ stationId: 'NOPE', codeDigest: codeDigest('c1'), expiresAtMs: T0 + 1000, nowMs: T0 }), false, 'no code for an unknown station')
    const redeem = (code: string, nowMs: number, id = 'S1') => s.accounts.redeemEnrollment({ stationId: id, codeDigest: codeDigest(code), passwordHash: `h-${code}-${nowMs}`, nowMs })
    t.equal(await redeem('wrong', T0), 'unknown')
    t.equal(await redeem('c1', T0, 'S2'), 'unknown', 'a code is bound to its station')
    t.equal((await s.accounts.get('S1'))?.passwordHash, null, 'a refused code changes nothing')
    const v = await s.accounts.version()
    t.equal(await redeem('c1', T0 + 10), 'enrolled')
    t.ok((await s.accounts.version()) > v)
    t.equal((await s.accounts.get('S1'))?.passwordHash, `h-c1-${T0 + 10}`)
    t.equal(await redeem('c1', T0 + 20), 'used', 'a code cannot be used twice')
    t.equal((await s.accounts.get('S1'))?.passwordHash, `h-c1-${T0 + 10}`)
  })

  withStore('an expired code is refused; a new code replaces the old one', async (t, s) => {
    await s.accounts.add(stationAccount('S1'))
    await s.accounts.issueEnrollment({ stationId: 'S1', codeDigest: codeDigest('old'), expiresAtMs: T0 + 1000, nowMs: T0 })
    const redeem = (code: string, nowMs: number) => s.accounts.redeemEnrollment({ stationId: 'S1', codeDigest: codeDigest(code), passwordHash: 'h', nowMs })
    t.equal(await redeem('old', T0 + 1000), 'expired', 'expired from expiresAtMs on')
    await s.accounts.issueEnrollment({ stationId: 'S1', codeDigest: codeDigest('new'), expiresAtMs: T0 + 5000, nowMs: T0 + 2000 })
    t.equal(await redeem('old', T0 + 2001), 'unknown', 'the old code stops working')
    t.equal(await redeem('new', T0 + 2001), 'enrolled')
  })

  withStore('removing a station removes its code', async (t, s) => {
    await s.accounts.add(stationAccount('S1'))
    await s.accounts.issueEnrollment({ stationId: 'S1', codeDigest: codeDigest('c'), expiresAtMs: T0 + 1000, nowMs: T0 })
    await s.accounts.remove('S1', 'station')
    await s.accounts.add(stationAccount('S1'))
    t.equal(await s.accounts.redeemEnrollment({ stationId: 'S1', codeDigest: codeDigest('c'), passwordHash: 'h', nowMs: T0 }), 'unknown')
  })

  withStore('of concurrent redemptions of one code exactly one enrolls', async (t, s) => {
    await s.accounts.add(stationAccount('S1'))
    await s.accounts.issueEnrollment({ stationId: 'S1', codeDigest: codeDigest('c'), expiresAtMs: T0 + 1000, nowMs: T0 })
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => s.accounts.redeemEnrollment({ stationId: 'S1', codeDigest: codeDigest('c'), passwordHash: `h${i}`, nowMs: T0 })))
    t.equal(outcomes.filter((o) => o === 'enrolled').length, 1)
    t.equal(outcomes.filter((o) => o === 'used').length, 7)
  })

  withStore('a broker hash goes with its password: kept on add, replaced or cleared by every password change', async (t, s) => {
    await s.accounts.add({ ...vehicle('V1', 'h1'), brokerHash: '$7$101$a$b' })
    t.match(await s.accounts.get('V1'), { passwordHash: 'h1', brokerHash: '$7$101$a$b' })
    await s.accounts.setPassword('V1', 'vehicle', 'h2', T0 + 1, '$7$101$c$d')
    t.match(await s.accounts.get('V1'), { passwordHash: 'h2', brokerHash: '$7$101$c$d' })
    await s.accounts.setPassword('V1', 'vehicle', 'h3', T0 + 2)
    t.match(await s.accounts.get('V1'), { passwordHash: 'h3', brokerHash: null }, 'a change without a broker hash leaves none: the old one would let the old password in')
    await s.accounts.add(stationAccount('S1'))
    t.equal((await s.accounts.get('S1'))?.brokerHash, null)
    await s.accounts.issueEnrollment({ stationId: 'S1', codeDigest: codeDigest('c'), expiresAtMs: T0 + 1000, nowMs: T0 })
    t.equal(await s.accounts.redeemEnrollment({ stationId: 'S1', codeDigest: codeDigest('c'), passwordHash: 'hs', brokerHash: '$7$101$e$f', nowMs: T0 }), 'enrolled')
    t.match((await s.accounts.list('station'))[0], { id: 'S1', passwordHash: 'hs', brokerHash: '$7$101$e$f' })
  })
}
