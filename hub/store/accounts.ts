/**
 * Accounts: the vehicles and stations that may log in to the hub's broker,
 * managed while the hub runs (docs/configuration.md "Accounts").
 *
 * A store keeps only what it is given: `passwordHash` is an opaque string
 * (hub/broker/password-hash.ts makes and checks it) and an enrollment code
 * arrives as its digest. Clear-text passwords and codes never reach a store.
 *
 * Contract (in addition to the general Store contract in ./types.ts):
 * - An id names one account, whatever its kind: a vehicle and a station never
 *   share an id (brokers key permissions by username).
 * - Every change (add, setPassword, remove, issueEnrollment, a successful
 *   redeemEnrollment) increases `version()` inside the same transaction, so a
 *   reader that sees a new version sees the change; other processes on the
 *   same database (the CLI beside a running hub, later other replicas) see it
 *   on their next read. Nothing else changes the version.
 * - `redeemEnrollment` is atomic: of concurrent redemptions of one code, in any
 *   number of processes, exactly one resolves `enrolled`
 *   (rule: enrollmentDecision, ./accounts-rules.ts).
 */
import type { Position } from '../../protocol/index.js'

export type AccountKind = 'vehicle' | 'station'

/** What the station registry needs to list and book a station. */
export interface StationAccountSpec {
  position: Position
  powerKw: number
  priceMinorPerKwh: number
}

export interface AccountRecord {
  id: string
  kind: AccountKind
  /** `$scrypt$...` (hub/broker/password-hash.ts), or null for a station that has not enrolled yet (it cannot log in). */
  passwordHash: string | null
  /**
   * The same password as an external Mosquitto checks it (`$7$` PBKDF2-SHA512,
   * hub/broker/mosquitto-acl.ts), made when the password was set on a hub
   * configured with `mqtt.mosquitto`; null otherwise. Replaced (or cleared)
   * with every password change, so it never lets an old password in.
   */
  brokerHash: string | null
  /** Stations only; null for vehicles. */
  station: StationAccountSpec | null
  createdAtMs: number
  updatedAtMs: number
}

export interface NewAccount {
  id: string
  kind: AccountKind
  passwordHash: string | null
  /** See AccountRecord.brokerHash; default null. */
  brokerHash?: string | null
  station: StationAccountSpec | null
  nowMs: number
}

export interface IssueEnrollmentInput {
  stationId: string
  /** Hex SHA-256 of the code (./accounts-rules.ts `codeDigest`). */
  codeDigest: string
  expiresAtMs: number
  nowMs: number
}

export interface RedeemEnrollmentInput {
  stationId: string
  codeDigest: string
  /** The hash of the password the station receives; stored only when the code is accepted. */
  passwordHash: string
  /** See AccountRecord.brokerHash; default null. */
  brokerHash?: string | null
  nowMs: number
}

/** `unknown`: no such station, no code issued, or another code. `used`: this code was redeemed before. `expired`: `nowMs >= expiresAtMs`. */
export type EnrollmentOutcome = 'enrolled' | 'unknown' | 'used' | 'expired'

export interface AccountsStore {
  /** Insert an account. Resolves false (and writes nothing) when the id exists, of either kind. */
  add(account: NewAccount): Promise<boolean>
  /**
   * Replace the password hash of an account of this kind, and its broker hash
   * with `brokerHash` (default null: none is kept). Resolves false when there is none.
   */
  setPassword(id: string, kind: AccountKind, passwordHash: string, nowMs: number, brokerHash?: string | null): Promise<boolean>
  /** Delete an account of this kind and its enrollment code. Resolves false when there is none. */
  remove(id: string, kind: AccountKind): Promise<boolean>
  /** One account by id, or null. */
  get(id: string): Promise<AccountRecord | null>
  /** Every account (of `kind`, when given), by id. */
  list(kind?: AccountKind): Promise<AccountRecord[]>
  /** A number that grows with every change to accounts (see the contract above); 0 for a new database. */
  version(): Promise<number>
  /** Give a station a one-time code, replacing any earlier one. Resolves false when no such station exists. */
  issueEnrollment(input: IssueEnrollmentInput): Promise<boolean>
  /** Redeem a code: on `enrolled` the code is spent and the station's password hash set, atomically; otherwise nothing changes. */
  redeemEnrollment(input: RedeemEnrollmentInput): Promise<EnrollmentOutcome>
}
