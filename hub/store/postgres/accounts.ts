/**
 * AccountsStore on PostgreSQL: a translation of ../sqlite/accounts.ts. Every
 * change runs in one transaction that also bumps the one-row
 * `accounts_version`, so replicas polling the version see each change once it
 * is committed; `redeemEnrollment` locks the station's code row (FOR UPDATE),
 * so of two redemptions of one code exactly one enrolls.
 */
import type { AccountKind, AccountRecord, AccountsStore, EnrollmentOutcome, IssueEnrollmentInput, NewAccount, RedeemEnrollmentInput } from '../accounts.js'
import { enrollmentDecision } from '../accounts-rules.js'
import { ACCOUNT_COLUMNS as COLUMNS, toAccount as toRecord, type AccountRow as Row } from '../sql-rows.js'
import type { PgDatabase, Tx } from './pool.js'

export class PgAccountsStore implements AccountsStore {
  readonly #db: PgDatabase

  constructor(db: PgDatabase) {
    this.#db = db
  }

  /** Run `work` in a transaction; bump the version when it reports a change. */
  #change<T>(work: (tx: Tx) => Promise<{ changed: boolean; value: T }>): Promise<T> {
    return this.#db.tx(async (tx) => {
      const r = await work(tx)
      if (r.changed) await tx.query('UPDATE accounts_version SET version = version + 1 WHERE id = 1')
      return r.value
    })
  }

  add(a: NewAccount): Promise<boolean> {
    const s = a.station
    return this.#change(async (tx) => {
      const res = await tx.query(`INSERT INTO accounts (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`, [
        a.id,
        a.kind,
        a.passwordHash,
        s?.position.lat ?? null,
        s?.position.lon ?? null,
        s?.powerKw ?? null,
        s?.priceMinorPerKwh ?? null,
        a.nowMs,
        a.nowMs,
        a.brokerHash ?? null,
      ])
      const changed = (res.rowCount ?? 0) > 0
      return { changed, value: changed }
    })
  }

  setPassword(id: string, kind: AccountKind, passwordHash: string, nowMs: number, brokerHash: string | null = null): Promise<boolean> {
    return this.#change(async (tx) => {
      const res = await tx.query('UPDATE accounts SET password_hash = $1, broker_hash = $2, updated_at_ms = $3 WHERE id = $4 AND kind = $5', [passwordHash, brokerHash, nowMs, id, kind])
      const changed = (res.rowCount ?? 0) > 0
      return { changed, value: changed }
    })
  }

  remove(id: string, kind: AccountKind): Promise<boolean> {
    return this.#change(async (tx) => {
      const changed = ((await tx.query('DELETE FROM accounts WHERE id = $1 AND kind = $2', [id, kind])).rowCount ?? 0) > 0
      if (changed) await tx.query('DELETE FROM enrollment_codes WHERE station_id = $1', [id])
      return { changed, value: changed }
    })
  }

  async get(id: string): Promise<AccountRecord | null> {
    const r = (await this.#db.query<Row>(`SELECT ${COLUMNS} FROM accounts WHERE id = $1`, [id])).rows[0]
    return r ? toRecord(r) : null
  }

  async list(kind?: AccountKind): Promise<AccountRecord[]> {
    const res =
      kind === undefined
        ? await this.#db.query<Row>(`SELECT ${COLUMNS} FROM accounts ORDER BY id`)
        : await this.#db.query<Row>(`SELECT ${COLUMNS} FROM accounts WHERE kind = $1 ORDER BY id`, [kind])
    return res.rows.map(toRecord)
  }

  async version(): Promise<number> {
    return (await this.#db.query<{ version: number }>('SELECT version FROM accounts_version WHERE id = 1')).rows[0]?.version ?? 0
  }

  issueEnrollment(input: IssueEnrollmentInput): Promise<boolean> {
    return this.#change(async (tx) => {
      const changed = (await tx.query("SELECT 1 FROM accounts WHERE id = $1 AND kind = 'station'", [input.stationId])).rows.length > 0
      if (changed) {
        await tx.query(
          `INSERT INTO enrollment_codes (station_id, code_digest, expires_at_ms, used_at_ms) VALUES ($1, $2, $3, NULL)
           ON CONFLICT (station_id) DO UPDATE SET code_digest = excluded.code_digest, expires_at_ms = excluded.expires_at_ms, used_at_ms = NULL`,
          [input.stationId, input.codeDigest, input.expiresAtMs],
        )
      }
      return { changed, value: changed }
    })
  }

  redeemEnrollment(input: RedeemEnrollmentInput): Promise<EnrollmentOutcome> {
    return this.#change(async (tx) => {
      // rule: enrollmentDecision (accounts-rules.ts), decided inside the transaction with the code row locked.
      const station = (await tx.query("SELECT 1 FROM accounts WHERE id = $1 AND kind = 'station' FOR UPDATE", [input.stationId])).rows.length > 0
      const code = (await tx.query<{ code_digest: string; expires_at_ms: number; used_at_ms: number | null }>('SELECT code_digest, expires_at_ms, used_at_ms FROM enrollment_codes WHERE station_id = $1 FOR UPDATE', [input.stationId])).rows[0]
      const row = code ? { codeDigest: code.code_digest, expiresAtMs: code.expires_at_ms, usedAtMs: code.used_at_ms } : null
      const value = station ? enrollmentDecision(row, input.codeDigest, input.nowMs) : 'unknown'
      const changed = value === 'enrolled'
      if (changed) {
        await tx.query('UPDATE enrollment_codes SET used_at_ms = $1 WHERE station_id = $2', [input.nowMs, input.stationId])
        await tx.query("UPDATE accounts SET password_hash = $1, broker_hash = $2, updated_at_ms = $3 WHERE id = $4 AND kind = 'station'", [input.passwordHash, input.brokerHash ?? null, input.nowMs, input.stationId])
      }
      return { changed, value }
    })
  }
}
