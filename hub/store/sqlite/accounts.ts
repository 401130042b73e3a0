/**
 * AccountsStore on SQLite. Every write runs in the connection's BEGIN
 * IMMEDIATE transaction (./write-batcher.ts) and bumps the one-row
 * `accounts_version` in it, so a hub polling the version in another process
 * sees each change once it is committed.
 */
import type { Database, Statement } from 'better-sqlite3'
import type { AccountKind, AccountRecord, AccountsStore, EnrollmentOutcome, IssueEnrollmentInput, NewAccount, RedeemEnrollmentInput } from '../accounts.js'
import { enrollmentDecision } from '../accounts-rules.js'
import { ACCOUNT_COLUMNS as COLUMNS, toAccount as toRecord, type AccountRow as Row } from '../sql-rows.js'
import { run } from './errors.js'
import { WriteBatcher } from './write-batcher.js'

interface CodeRow {
  code_digest: string
  expires_at_ms: number
  used_at_ms: number | null
}

export class SqliteAccountsStore implements AccountsStore {
  readonly #guard: () => void
  readonly #write: <T>(work: () => T) => Promise<T>
  readonly #s: {
    insert: Statement<[string, AccountKind, string | null, number | null, number | null, number | null, number | null, number, number, string | null]>
    setPassword: Statement<[string, string | null, number, string, AccountKind]>
    remove: Statement<[string, AccountKind]>
    removeCode: Statement<[string]>
    get: Statement<[string], Row>
    getKind: Statement<[string, AccountKind], Row>
    listAll: Statement<[], Row>
    listKind: Statement<[AccountKind], Row>
    version: Statement<[], { version: number }>
    bump: Statement<[]>
    upsertCode: Statement<[string, string, number]>
    getCode: Statement<[string], CodeRow>
    spendCode: Statement<[number, string]>
  }

  constructor(db: Database, guard: () => void) {
    this.#guard = guard
    this.#write = WriteBatcher.for(db).writer(guard)
    this.#s = {
      insert: db.prepare(`INSERT INTO accounts (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
      setPassword: db.prepare('UPDATE accounts SET password_hash = ?, broker_hash = ?, updated_at_ms = ? WHERE id = ? AND kind = ?'),
      remove: db.prepare('DELETE FROM accounts WHERE id = ? AND kind = ?'),
      removeCode: db.prepare('DELETE FROM enrollment_codes WHERE station_id = ?'),
      get: db.prepare(`SELECT ${COLUMNS} FROM accounts WHERE id = ?`),
      getKind: db.prepare(`SELECT ${COLUMNS} FROM accounts WHERE id = ? AND kind = ?`),
      listAll: db.prepare(`SELECT ${COLUMNS} FROM accounts ORDER BY id`),
      listKind: db.prepare(`SELECT ${COLUMNS} FROM accounts WHERE kind = ? ORDER BY id`),
      version: db.prepare('SELECT version FROM accounts_version WHERE id = 1'),
      bump: db.prepare('UPDATE accounts_version SET version = version + 1 WHERE id = 1'),
      upsertCode: db.prepare(
        `INSERT INTO enrollment_codes (station_id, code_digest, expires_at_ms, used_at_ms) VALUES (?, ?, ?, NULL)
         ON CONFLICT (station_id) DO UPDATE SET code_digest = excluded.code_digest, expires_at_ms = excluded.expires_at_ms, used_at_ms = NULL`,
      ),
      getCode: db.prepare('SELECT code_digest, expires_at_ms, used_at_ms FROM enrollment_codes WHERE station_id = ?'),
      spendCode: db.prepare('UPDATE enrollment_codes SET used_at_ms = ? WHERE station_id = ?'),
    }
  }

  /** Run `work` in a write transaction; bump the version when it reports a change. */
  #change<T>(work: () => { changed: boolean; value: T }): Promise<T> {
    return this.#write(() => {
      const r = work()
      if (r.changed) this.#s.bump.run()
      return r.value
    })
  }

  add(a: NewAccount): Promise<boolean> {
    const s = a.station
    return this.#change(() => {
      const changed = this.#s.insert.run(a.id, a.kind, a.passwordHash, s?.position.lat ?? null, s?.position.lon ?? null, s?.powerKw ?? null, s?.priceMinorPerKwh ?? null, a.nowMs, a.nowMs, a.brokerHash ?? null).changes > 0
      return { changed, value: changed }
    })
  }

  setPassword(id: string, kind: AccountKind, passwordHash: string, nowMs: number, brokerHash: string | null = null): Promise<boolean> {
    return this.#change(() => {
      const changed = this.#s.setPassword.run(passwordHash, brokerHash, nowMs, id, kind).changes > 0
      return { changed, value: changed }
    })
  }

  remove(id: string, kind: AccountKind): Promise<boolean> {
    return this.#change(() => {
      const changed = this.#s.remove.run(id, kind).changes > 0
      if (changed) this.#s.removeCode.run(id)
      return { changed, value: changed }
    })
  }

  get(id: string): Promise<AccountRecord | null> {
    return run(() => {
      this.#guard()
      const r = this.#s.get.get(id)
      return r ? toRecord(r) : null
    })
  }

  list(kind?: AccountKind): Promise<AccountRecord[]> {
    return run(() => {
      this.#guard()
      return (kind === undefined ? this.#s.listAll.all() : this.#s.listKind.all(kind)).map(toRecord)
    })
  }

  version(): Promise<number> {
    return run(() => {
      this.#guard()
      return this.#s.version.get()?.version ?? 0
    })
  }

  issueEnrollment(input: IssueEnrollmentInput): Promise<boolean> {
    return this.#change(() => {
      const changed = this.#s.getKind.get(input.stationId, 'station') !== undefined
      if (changed) this.#s.upsertCode.run(input.stationId, input.codeDigest, input.expiresAtMs)
      return { changed, value: changed }
    })
  }

  redeemEnrollment(input: RedeemEnrollmentInput): Promise<EnrollmentOutcome> {
    return this.#change(() => {
      // rule: enrollmentDecision (accounts-rules.ts), decided inside the write transaction.
      const station = this.#s.getKind.get(input.stationId, 'station')
      const code = this.#s.getCode.get(input.stationId)
      const row = code ? { codeDigest: code.code_digest, expiresAtMs: code.expires_at_ms, usedAtMs: code.used_at_ms } : null
      const value = station ? enrollmentDecision(row, input.codeDigest, input.nowMs) : 'unknown'
      const changed = value === 'enrolled'
      if (changed) {
        this.#s.spendCode.run(input.nowMs, input.stationId)
        this.#s.setPassword.run(input.passwordHash, input.brokerHash ?? null, input.nowMs, input.stationId, 'station')
      }
      return { changed, value }
    })
  }
}
