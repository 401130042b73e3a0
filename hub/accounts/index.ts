/**
 * The hub's accounts, assembled for app.ts: hub.json's vehicles and stations
 * seeded into the store, the table the embedded broker checks logins
 * against, the poller that keeps it (and the station registry) in step with
 * the store, the files of an external Mosquitto (hub.json `mqtt.mosquitto`)
 * rewritten on every change, and the HTTP routes.
 */
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Clock } from '../../base/clock.js'
import type { HubConfig } from '../config.js'
import { AccountTable, assertNoIdentityCollisions, hubUsernameOf } from '../broker/identities.js'
import { mosquittoPasswordHash } from '../broker/mosquitto-acl.js'
import type { StationRegistry } from '../stations/index.js'
import type { Store } from '../store/index.js'
import { accountRoutes } from './http-routes.js'
import { LiveAccounts } from './live-accounts.js'
import { MosquittoSync } from './mosquitto-sync.js'
import { AccountService } from './service.js'

export { AccountService, ENROLLMENT_TTL_MS } from './service.js'
export { LiveAccounts, type AppliedChange } from './live-accounts.js'
export { MosquittoSync, type MosquittoFiles, type SyncOutcome } from './mosquitto-sync.js'
export { hashPassword, verifyPassword, isPasswordHash } from '../broker/password-hash.js'

export interface HubAccounts {
  service: AccountService
  /** Resolves once the passwords seeded from hub.json at this start are hashed into the store. */
  seeded: Promise<void>
  /** What the embedded broker checks logins against (pass as its `accounts`), filled by `start`. */
  table: AccountTable
  live: LiveAccounts
  /** With hub.json `mqtt.mosquitto`: what keeps the external Mosquitto's files in step (null otherwise). */
  mosquitto: MosquittoSync | null
  /** `/admin/v1` and `/enroll/v1`, for the HTTP server's plugins. */
  routes: (app: FastifyInstance) => void
  /** Who closes a login's live connections when its account goes or changes (the embedded broker's `disconnect`). */
  disconnectWith(fn: (logins: readonly string[]) => void): void
}

export interface OpenAccountsOptions {
  config: HubConfig
  store: Store
  clock: Clock
  logger: Logger
  stations: StationRegistry
  /** How often to look for changes (default 300 ms). */
  pollMs?: number
}

/**
 * Seed hub.json's accounts into the store (hashing new passwords), load them
 * into the table and the station registry, and follow the store from then on
 * (stop with `live.stop()`). Throws ConfigError on colliding ids.
 */
export async function openAccounts(opts: OpenAccountsOptions): Promise<HubAccounts> {
  assertNoIdentityCollisions(opts.config)
  const table = new AccountTable()
  let disconnect: ((logins: readonly string[]) => void) | undefined
  const configPasswords = new Map([...opts.config.vehicles.map((v) => [v.vehicleId, v.password] as const), ...opts.config.stations.map((s) => [s.stationId, s.password] as const)])
  const external = 'url' in opts.config.mqtt ? opts.config.mqtt : null
  const mosquitto = external?.mosquitto
    ? new MosquittoSync({ hubId: opts.config.hubId, files: external.mosquitto, hub: { username: hubUsernameOf(opts.config), password: external.password }, configPasswords, logger: opts.logger })
    : null
  const live = new LiveAccounts({
    store: opts.store.accounts,
    table,
    stations: opts.stations,
    configStations: opts.config.stations,
    configPasswords,
    logger: opts.logger,
    clock: opts.clock,
    disconnect: (logins) => disconnect?.(logins),
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
  })
  const service = new AccountService({
    store: opts.store.accounts,
    clock: opts.clock,
    hubId: opts.config.hubId,
    afterChange: () => live.refresh(),
    ...(mosquitto ? { brokerHash: (password: string) => mosquittoPasswordHash(password) } : {}),
  })
  const seeded = await service.seed(opts.config)
  await live.start()
  if (mosquitto) {
    // At start a file that cannot be written stops the hub (ConfigError); later a failed write is logged and retried with the next change.
    mosquitto.apply(await opts.store.accounts.list())
    live.on('applied', (c) => {
      try {
        mosquitto.apply(c.accounts)
      } catch (err) {
        opts.logger.error({ err }, 'could not update the Mosquitto files')
      }
    })
  }
  seeded.hashed.catch((err: unknown) => opts.logger.error({ err }, 'could not hash the passwords seeded from hub.json; they stay checked against hub.json'))
  return {
    service,
    seeded: seeded.hashed.catch(() => undefined),
    table,
    live,
    mosquitto,
    routes: accountRoutes(service, opts.config.operators),
    disconnectWith(fn) {
      disconnect = fn
    },
  }
}
