/** In-memory AccountsStore: each method is synchronous inside, hence atomic on the one JS thread. */
import type { AccountKind, AccountRecord, AccountsStore, EnrollmentOutcome, IssueEnrollmentInput, NewAccount, RedeemEnrollmentInput } from '../accounts.js'
import { enrollmentDecision, type EnrollmentRow } from '../accounts-rules.js'

const copy = (a: AccountRecord): AccountRecord => ({ ...a, station: a.station && { ...a.station, position: { ...a.station.position } } })

export class MemoryAccountsStore implements AccountsStore {
  readonly #accounts = new Map<string, AccountRecord>()
  readonly #codes = new Map<string, EnrollmentRow>()
  readonly #guard: () => void
  #version = 0

  constructor(guard: () => void) {
    this.#guard = guard
  }

  reset(): void {
    this.#accounts.clear()
    this.#codes.clear()
    this.#version = 0
  }

  #mine(id: string, kind: AccountKind): AccountRecord | undefined {
    const a = this.#accounts.get(id)
    return a?.kind === kind ? a : undefined
  }

  async add(a: NewAccount): Promise<boolean> {
    this.#guard()
    if (this.#accounts.has(a.id)) return false
    this.#accounts.set(a.id, copy({ id: a.id, kind: a.kind, passwordHash: a.passwordHash, brokerHash: a.brokerHash ?? null, station: a.station, createdAtMs: a.nowMs, updatedAtMs: a.nowMs }))
    this.#version++
    return true
  }

  async setPassword(id: string, kind: AccountKind, passwordHash: string, nowMs: number, brokerHash: string | null = null): Promise<boolean> {
    this.#guard()
    const a = this.#mine(id, kind)
    if (!a) return false
    a.passwordHash = passwordHash
    a.brokerHash = brokerHash
    a.updatedAtMs = nowMs
    this.#version++
    return true
  }

  async remove(id: string, kind: AccountKind): Promise<boolean> {
    this.#guard()
    if (!this.#mine(id, kind)) return false
    this.#accounts.delete(id)
    this.#codes.delete(id)
    this.#version++
    return true
  }

  async get(id: string): Promise<AccountRecord | null> {
    this.#guard()
    const a = this.#accounts.get(id)
    return a ? copy(a) : null
  }

  async list(kind?: AccountKind): Promise<AccountRecord[]> {
    this.#guard()
    return [...this.#accounts.values()]
      .filter((a) => kind === undefined || a.kind === kind)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(copy)
  }

  async version(): Promise<number> {
    this.#guard()
    return this.#version
  }

  async issueEnrollment(input: IssueEnrollmentInput): Promise<boolean> {
    this.#guard()
    if (!this.#mine(input.stationId, 'station')) return false
    this.#codes.set(input.stationId, { codeDigest: input.codeDigest, expiresAtMs: input.expiresAtMs, usedAtMs: null })
    this.#version++
    return true
  }

  async redeemEnrollment(input: RedeemEnrollmentInput): Promise<EnrollmentOutcome> {
    this.#guard()
    const row = this.#codes.get(input.stationId) ?? null
    const station = this.#mine(input.stationId, 'station')
    const outcome = station ? enrollmentDecision(row, input.codeDigest, input.nowMs) : 'unknown'
    if (outcome !== 'enrolled' || !station || !row) return outcome
    row.usedAtMs = input.nowMs
    station.passwordHash = input.passwordHash
    station.brokerHash = input.brokerHash ?? null
    station.updatedAtMs = input.nowMs
    this.#version++
    return outcome
  }
}
