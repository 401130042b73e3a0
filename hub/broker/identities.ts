/**
 * Who may log in to a hub's broker: stations, vehicles and the hub itself.
 * Usernames are the ids of docs/protocol.md; the hub's own username contains a `.`,
 * which no id may contain (`^[A-Za-z0-9_-]{1,64}$`), so it never collides.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { ConfigError } from '../../protocol/index.js'
import type { HubConfig } from '../config.js'
import { compileRules, type CompiledRules, type Identity } from './permissions.js'
import { dummyHash, verifyPassword } from './password-hash.js'

export interface StationCredential {
  stationId: string
  password: string
}
export interface VehicleCredential {
  vehicleId: string
  password: string
}

/** The hub's default MQTT username: `hub.<hubId>`. */
export function defaultHubUsername(hubId: string): string {
  return `hub.${hubId}`
}

/**
 * A replica's MQTT username: `<hub user>.<replica>` (`hub.feira.r1`). It
 * contains a `.`, which no station or vehicle id may, so no other identity can
 * hold it; with `use_username_as_clientid` each replica has its own session.
 */
export function replicaUsername(hubUsername: string, replica: string | undefined): string {
  return replica === undefined ? hubUsername : `${hubUsername}.${replica}`
}

/**
 * The login of the hub's own connection for vehicle requests on an external
 * broker: `<hub login>/requests` (`hub.feira/requests`, a replica's
 * `hub.feira.r1/requests`). No station, vehicle or replica name has a `/`, so
 * it is no other identity's; with `use_username_as_clientid` it is a session
 * of its own, whose queue no station's events share (hub/app.ts).
 */
export function requestUsername(hubUsername: string): string {
  return `${hubUsername}/requests`
}

/** Every login one hub process (or replica) of login `hubUsername` connects with to an external broker: its own and its request connection's. */
export function processLogins(hubUsername: string): string[] {
  return [hubUsername, requestUsername(hubUsername)]
}

/** A fresh random password (256 bits, base64url). */
export function randomPassword(): string {
  return randomBytes(32).toString('base64url')
}

/** The username the hub logs in with: `mqtt.username` for an external broker, else the default. */
export function hubUsernameOf(config: Pick<HubConfig, 'hubId' | 'mqtt'>): string {
  return 'url' in config.mqtt && config.mqtt.username !== undefined ? config.mqtt.username : defaultHubUsername(config.hubId)
}

export interface IdentityConfig extends Pick<HubConfig, 'hubId' | 'mqtt'> {
  stations: readonly { stationId: string }[]
  vehicles: readonly { vehicleId: string }[]
}

/**
 * Usernames claimed by more than one identity (a station and a vehicle with
 * the same id, or the hub's `mqtt.username` equal to a station or vehicle id),
 * sorted. Brokers key permissions by username, so such an id would get the
 * rights of both roles: a vehicle `S1` could publish station S1's state.
 * hub.json validation does not catch this; the hub and `voltway hub acl`
 * refuse to run while this list is not empty.
 */
export function checkIdentityCollisions(config: IdentityConfig): string[] {
  const stations = new Set(config.stations.map((s) => s.stationId))
  const out = new Set<string>()
  for (const v of config.vehicles) if (stations.has(v.vehicleId)) out.add(v.vehicleId)
  const hub = hubUsernameOf(config)
  if (stations.has(hub) || config.vehicles.some((v) => v.vehicleId === hub)) out.add(hub)
  return [...out].sort()
}

/** Throws a ConfigError naming the colliding ids, for start-up paths. */
export function assertNoIdentityCollisions(config: IdentityConfig, label = 'hub.json'): void {
  const ids = checkIdentityCollisions(config)
  if (ids.length > 0) {
    throw new ConfigError(
      `${label}: stations/vehicles: these ids are used by more than one identity (station, vehicle or the hub's mqtt.username): ${ids.join(', ')}; ` +
        'every station, vehicle and the hub need distinct MQTT usernames',
    )
  }
}

export interface Account {
  identity: Identity
  rules: CompiledRules
}

/** A stored account the broker checks against: its `$scrypt$` hash, or null (cannot log in yet). */
export interface HashedAccount {
  identity: Identity
  passwordHash: string | null
  /** hub.json's password, for an account seeded from it and unchanged since (password-hash.ts `SEEDED`): checked instead of the hash. */
  configPassword?: string
}

/** `digest`: a clear-text password given to `add`. `hash`: a stored account; `key` tells when it changed; `fixed`: only `verified` is accepted (hub.json's password). */
type Check = { digest: Buffer } | { hash: string | null; key: string | null; verified: Buffer | null; fixed: boolean }
type Entry = Account & { check: Check }

/**
 * Username -> account, with password checks that take the same time whatever
 * the password's length or whether the user exists. Clear-text passwords
 * given to `add` (the hub's own login, tests) are kept only as an HMAC under a
 * per-process random key; accounts from the store (`sync`) are checked with
 * scrypt against their hash, and an unknown user against a dummy hash. A
 * password that passed scrypt once is remembered as its HMAC until the
 * account's hash changes, so reconnects do not pay scrypt again.
 */
export class AccountTable {
  readonly #key = randomBytes(32)
  readonly #accounts = new Map<string, Entry>()

  #digest(password: Buffer | string): Buffer {
    return createHmac('sha256', this.#key).update(password).digest()
  }

  add(identity: Identity, password: string): void {
    if (this.#accounts.has(identity.id)) throw new ConfigError(`duplicate MQTT username ${identity.id}`)
    this.#accounts.set(identity.id, { identity, rules: compileRules(identity), check: { digest: this.#digest(password) } })
  }

  has(username: string): boolean {
    return this.#accounts.has(username)
  }

  /** How many logins of each kind the table holds now (the hub's own included), e.g. `{hub: 1, station: 100, vehicle: 5000}`. */
  countByKind(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const e of this.#accounts.values()) counts[e.identity.kind] = (counts[e.identity.kind] ?? 0) + 1
    return counts
  }

  /**
   * Make the stored accounts exactly `accounts` (entries added with `add` are
   * kept). Returns the logins whose account was removed or whose password or
   * role changed: their live connections must go.
   */
  sync(accounts: readonly HashedAccount[]): string[] {
    const changed: string[] = []
    const wanted = new Map(accounts.map((a) => [a.identity.id, a]))
    for (const [id, e] of this.#accounts) {
      if ('digest' in e.check) continue
      const w = wanted.get(id)
      if (!w || w.identity.kind !== e.identity.kind || keyOf(w) !== e.check.key) {
        this.#accounts.delete(id)
        changed.push(id)
      }
    }
    for (const [id, a] of wanted) {
      const e = this.#accounts.get(id)
      if (e !== undefined) continue
      const fixed = a.configPassword !== undefined
      const verified = a.configPassword === undefined ? null : this.#digest(a.configPassword)
      this.#accounts.set(id, { identity: a.identity, rules: compileRules(a.identity), check: { hash: fixed ? null : a.passwordHash, key: keyOf(a), verified, fixed } })
    }
    return changed
  }


  /** The account when `username` exists and `password` is right, else null. */
  async verify(username: string, password: Buffer | undefined): Promise<Account | null> {
    const entry = this.#accounts.get(username)
    const given = this.#digest(password ?? Buffer.alloc(0))
    const check = entry?.check
    if (check && 'digest' in check) return timingSafeEqual(given, check.digest) && entry ? { identity: entry.identity, rules: entry.rules } : null
    if (check?.verified && timingSafeEqual(given, check.verified) && entry) return { identity: entry.identity, rules: entry.rules }
    if (check?.fixed) {
      await dummyHash().then((h) => verifyPassword('', h)) // a wrong password costs what it costs elsewhere
      return null
    }
    const ok = await verifyPassword((password ?? Buffer.alloc(0)).toString('utf8'), check?.hash ?? (await dummyHash()))
    // The account may have changed while scrypt ran: only the entry checked may be admitted.
    if (!ok || !entry || !check || this.#accounts.get(username) !== entry) return null
    check.verified = given
    return { identity: entry.identity, rules: entry.rules }
  }
}

/** What identifies an account's password (in memory only): hub.json's (seeded, unchanged; its hash may still be being computed) or the stored hash. */
const keyOf = (a: HashedAccount): string | null => (a.configPassword !== undefined ? `config:${a.configPassword}` : a.passwordHash)
