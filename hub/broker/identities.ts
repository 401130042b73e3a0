/**
 * Who may log in to a hub's broker: stations, vehicles and the hub itself.
 * Usernames are the ids of docs/protocol.md; the hub's own username contains a `.`,
 * which no id may contain (`^[A-Za-z0-9_-]{1,64}$`), so it never collides.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { ConfigError } from '../../protocol/index.js'
import type { HubConfig } from '../config.js'
import { compileRules, type CompiledRules, type Identity } from './permissions.js'

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

/**
 * Username -> account, with password checks that take the same time whatever
 * the password's length or whether the user exists: both sides are reduced to
 * a fixed-length HMAC under a per-process random key, then compared with
 * `timingSafeEqual`.
 */
export class AccountTable {
  readonly #key = randomBytes(32)
  readonly #accounts = new Map<string, Account & { digest: Buffer }>()
  readonly #dummy: Buffer

  constructor() {
    this.#dummy = this.#digest(randomBytes(32))
  }

  #digest(password: Buffer | string): Buffer {
    return createHmac('sha256', this.#key).update(password).digest()
  }

  add(identity: Identity, password: string): void {
    if (this.#accounts.has(identity.id)) throw new ConfigError(`duplicate MQTT username ${identity.id}`)
    this.#accounts.set(identity.id, { identity, rules: compileRules(identity), digest: this.#digest(password) })
  }

  has(username: string): boolean {
    return this.#accounts.has(username)
  }

  /** The account when `username` exists and `password` is right, else null. */
  verify(username: string, password: Buffer | undefined): Account | null {
    const account = this.#accounts.get(username)
    const given = this.#digest(password ?? Buffer.alloc(0))
    const ok = timingSafeEqual(given, account?.digest ?? this.#dummy)
    return ok && account !== undefined ? { identity: account.identity, rules: account.rules } : null
  }
}
