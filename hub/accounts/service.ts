/**
 * Managing accounts: what `/admin/v1`, `POST /enroll/v1` and the
 * `voltway hub vehicle|station` commands do, on any AccountsStore. Passwords
 * are hashed here before they reach the store; a generated password or code is
 * returned to the caller once and kept nowhere in clear.
 */
import { randomBytes } from 'node:crypto'
import { VoltwayError, formatTime } from '../../protocol/index.js'
import type { AccountSummary } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import { StoreError, codeDigest, type AccountKind, type AccountRecord, type AccountsStore, type StationAccountSpec } from '../store/index.js'
import { randomPassword } from '../broker/identities.js'
import { SEEDED, SEED_PENDING, hashPassword } from '../broker/password-hash.js'

/** How long an enrollment code is valid: a technician's working day and the night after. */
export const ENROLLMENT_TTL_MS = 24 * 3600_000

export interface AccountServiceOptions {
  store: AccountsStore
  clock: Clock
  hubId: string
  enrollmentTtlMs?: number
  /** Called after each change this service makes and awaited before it resolves (the hub applies the change at once rather than at its next poll). */
  afterChange?: () => Promise<void>
  /**
   * With an external Mosquitto (hub.json `mqtt.mosquitto`): the password as
   * Mosquitto checks it (`mosquittoPasswordHash`), stored beside the scrypt
   * hash so the hub can write Mosquitto's password file without clear text.
   */
  brokerHash?: (password: string) => string
}

export interface IssuedCode {
  stationId: string
  /** The one-time code, in clear: shown once, stored as its SHA-256 only. */
  code: string
  expiresAt: string
}

/** Accounts to seed at start: hub.json `vehicles` and `stations`. */
export interface SeedInput {
  vehicles: readonly { vehicleId: string; password: string }[]
  stations: readonly ({ stationId: string; password: string } & StationAccountSpec)[]
}

export function summary(a: AccountRecord): AccountSummary {
  return { id: a.id, kind: a.kind, hasPassword: a.passwordHash !== null, station: a.station, createdAt: formatTime(a.createdAtMs), updatedAt: formatTime(a.updatedAtMs) }
}

const notFound = (kind: AccountKind, id: string): VoltwayError =>
  new VoltwayError('NOT_FOUND', `no ${kind} ${id} at this hub; see \`voltway hub ${kind} list\``, { id, kind })

export class AccountService {
  readonly #store: AccountsStore
  readonly #clock: Clock
  readonly #ttlMs: number
  readonly hubId: string
  readonly #afterChange: () => Promise<void>
  readonly #brokerHash: (password: string) => string | null

  constructor(opts: AccountServiceOptions) {
    this.#store = opts.store
    this.#clock = opts.clock
    this.hubId = opts.hubId
    this.#ttlMs = opts.enrollmentTtlMs ?? ENROLLMENT_TTL_MS
    this.#afterChange = opts.afterChange ?? (async () => undefined)
    this.#brokerHash = opts.brokerHash ?? (() => null)
  }

  async list(kind?: AccountKind): Promise<AccountSummary[]> {
    return (await this.#store.list(kind)).map(summary)
  }

  /** Add a vehicle; resolves the password when the hub generated it. Throws VoltwayError ACCOUNT_EXISTS. */
  async addVehicle(vehicleId: string, password?: string): Promise<{ id: string; password?: string }> {
    const pw = password ?? randomPassword()
    const added = await this.#store.add({ id: vehicleId, kind: 'vehicle', passwordHash: await hashPassword(pw), brokerHash: this.#brokerHash(pw), station: null, nowMs: this.#clock.now() })
    if (!added) throw await this.#exists(vehicleId)
    await this.#afterChange()
    return password === undefined ? { id: vehicleId, password: pw } : { id: vehicleId }
  }

  /** Add a station with no password and issue its enrollment code. Throws VoltwayError ACCOUNT_EXISTS. */
  async addStation(stationId: string, spec: StationAccountSpec): Promise<IssuedCode> {
    const added = await this.#store.add({ id: stationId, kind: 'station', passwordHash: null, station: spec, nowMs: this.#clock.now() })
    if (!added) throw await this.#exists(stationId)
    return this.issueEnrollment(stationId)
  }

  /** A new one-time code for a station (the old one stops working). Throws VoltwayError NOT_FOUND. */
  async issueEnrollment(stationId: string): Promise<IssuedCode> {
    const code = randomBytes(16).toString('base64url')
    const nowMs = this.#clock.now()
    const expiresAtMs = nowMs + this.#ttlMs
    if (!(await this.#store.issueEnrollment({ stationId, codeDigest: codeDigest(code), expiresAtMs, nowMs }))) throw notFound('station', stationId)
    await this.#afterChange()
    return { stationId, code, expiresAt: formatTime(expiresAtMs) }
  }

  /** Set (or generate) a password; resolves it when generated. Live connections of the account are cut by the hub that sees the change. */
  async setPassword(kind: AccountKind, id: string, password?: string): Promise<{ id: string; password?: string }> {
    const pw = password ?? randomPassword()
    if (!(await this.#store.setPassword(id, kind, await hashPassword(pw), this.#clock.now(), this.#brokerHash(pw)))) throw notFound(kind, id)
    await this.#afterChange()
    return password === undefined ? { id, password: pw } : { id }
  }

  /** Throws VoltwayError NOT_FOUND. */
  async remove(kind: AccountKind, id: string): Promise<void> {
    if (!(await this.#store.remove(id, kind))) throw notFound(kind, id)
    await this.#afterChange()
  }

  /**
   * Redeem an enrollment code: resolves the station's new password (generated
   * here, stored hashed). Throws VoltwayError ENROLLMENT_REFUSED with
   * `details.reason` `unknown` | `used` | `expired`.
   */
  async enroll(stationId: string, code: string): Promise<{ stationId: string; hubId: string; username: string; password: string }> {
    const password = randomPassword()
    const outcome = await this.#store.redeemEnrollment({ stationId, codeDigest: codeDigest(code), passwordHash: await hashPassword(password), brokerHash: this.#brokerHash(password), nowMs: this.#clock.now() })
    if (outcome !== 'enrolled') {
      const why = { unknown: 'is not a code issued for this station', used: 'was used already: each code enrolls once', expired: 'has expired' }[outcome]
      throw new VoltwayError('ENROLLMENT_REFUSED', `enrollment code for ${stationId} ${why}; ask the hub operator for a new one (voltway hub station passwd --id ${stationId} --enroll)`, { reason: outcome, stationId })
    }
    await this.#afterChange()
    return { stationId, hubId: this.hubId, username: stationId, password }
  }

  /**
   * Put hub.json's accounts into the store when it does not have them, marked
   * seeded (password-hash.ts `SEEDED`); an account the store has keeps its
   * password. Fast: the rows are written with `seed:pending` and the returned
   * `hashed` promise fills in their scrypt hashes afterwards (logins meanwhile
   * are checked against hub.json, see `SEEDED`). A row changed by someone else
   * in between keeps that change.
   */
  async seed(input: SeedInput): Promise<{ added: string[]; hashed: Promise<void> }> {
    const known = new Set((await this.#store.list()).map((a) => a.id))
    const nowMs = this.#clock.now()
    const todo = [
      ...input.vehicles.map((v) => ({ id: v.vehicleId, kind: 'vehicle' as const, password: v.password, station: null })),
      ...input.stations.map((s) => ({ id: s.stationId, kind: 'station' as const, password: s.password, station: { position: s.position, powerKw: s.powerKw, priceMinorPerKwh: s.priceMinorPerKwh } })),
    ].filter((a) => !known.has(a.id))
    const added = (await Promise.all(todo.map(async (a) => ((await this.#store.add({ id: a.id, kind: a.kind, passwordHash: SEED_PENDING, brokerHash: this.#brokerHash(a.password), station: a.station, nowMs })) ? a : null)))).filter((a) => a !== null)
    const hashed = (async () => {
      for (const a of added) {
        const hash = `${SEEDED}${await hashPassword(a.password)}`
        const row = await this.#store.get(a.id)
        if (row?.passwordHash === SEED_PENDING) await this.#store.setPassword(a.id, a.kind, hash, this.#clock.now(), row.brokerHash)
      }
    })().catch((err: unknown) => {
      // The hub stopped before every hash was in: the next start finds `seed:pending` rows and keeps checking hub.json for them.
      if (!(err instanceof StoreError && err.code === 'CLOSED')) throw err
    })
    return { added: added.map((a) => a.id), hashed }
  }

  /** ACCOUNT_EXISTS for `id`, naming the kind of the account that has it, so the hint's passwd is the right one. */
  async #exists(id: string): Promise<VoltwayError> {
    const kind = (await this.#store.get(id))?.kind
    if (kind === undefined) return new VoltwayError('ACCOUNT_EXISTS', `an account ${id} exists already (vehicles and stations share ids); pick another id`, { id })
    return new VoltwayError('ACCOUNT_EXISTS', `a ${kind} ${id} exists already (vehicles and stations share ids); pick another id, or change that ${kind}'s password (\`voltway hub ${kind} passwd --id ${id}\`, or POST /admin/v1/${kind}s/${id}/password)`, { id, kind })
  }
}
