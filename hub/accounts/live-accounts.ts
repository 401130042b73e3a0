/**
 * Keeps a running hub in step with its accounts store: every `pollMs`
 * (default 300) it reads the store's accounts version, and when it moved it
 * reloads the accounts into the broker's AccountTable, closes the live
 * connections of removed or re-passworded logins, and updates the station
 * registry. Polling a counter in the store works whoever wrote the change:
 * this hub's `/admin/v1`, the `voltway hub vehicle|station` CLI in another
 * process on the same SQLite file, or (later) another replica.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Clock } from '../../base/clock.js'
import type { AccountRecord, AccountsStore } from '../store/index.js'
import type { AccountTable } from '../broker/identities.js'
import { SEEDED } from '../broker/password-hash.js'
import type { StationRegistry, StationSpec } from '../stations/index.js'

export interface LiveAccountsOptions {
  store: AccountsStore
  table: AccountTable
  stations: StationRegistry
  /** hub.json's stations: their position, power and price win over the store's (hub.json stays the place to edit them). */
  configStations: readonly StationSpec[]
  /** hub.json's passwords by id: checked for accounts seeded from it and unchanged since (password-hash.ts `SEEDED`). */
  configPasswords: ReadonlyMap<string, string>
  /** Close the live connections of these logins (the embedded broker's `disconnect`); absent with an external broker. */
  disconnect?: (logins: readonly string[]) => void
  logger: Logger
  /** Whose timers run the poll. */
  clock: Clock
  pollMs?: number
}

export interface AppliedChange {
  version: number
  /** Every account now in force, as the store listed them. */
  accounts: readonly AccountRecord[]
  /** Logins whose connections were closed. */
  disconnected: string[]
  stationsAdded: string[]
  stationsRemoved: string[]
}

export class LiveAccounts extends EventEmitter<{ applied: [AppliedChange] }> {
  readonly #o: LiveAccountsOptions
  readonly #log: Logger
  #version = -1
  #cancel: (() => void) | undefined
  #stopped = false
  #tail: Promise<void> = Promise.resolve()

  constructor(opts: LiveAccountsOptions) {
    super()
    this.#o = opts
    this.#log = opts.logger.child({ component: 'accounts' })
  }

  /** The accounts version in force (-1 before `start`). */
  get version(): number {
    return this.#version
  }

  /** Load the accounts now (at start), then poll. */
  async start(): Promise<void> {
    await this.refresh()
    this.#schedule()
  }

  #schedule(): void {
    if (this.#stopped) return
    this.#cancel = this.#o.clock.setTimer(() => {
      this.refresh()
        .catch((err: unknown) => this.#log.warn({ err }, 'could not read accounts; will retry'))
        .finally(() => this.#schedule())
    }, this.#o.pollMs ?? 300)
  }

  stop(): void {
    this.#stopped = true
    this.#cancel?.()
  }

  /**
   * Apply the store's accounts if their version moved. Refreshes run one after
   * another, and one asked for after a change starts after it: it sees it.
   */
  refresh(): Promise<void> {
    const next = this.#tail.then(() => this.#refresh())
    this.#tail = next.catch(() => undefined)
    return next
  }

  async #refresh(): Promise<void> {
    const version = await this.#o.store.version()
    if (version === this.#version) return
    this.apply(await this.#o.store.list(), version)
  }

  /** Put `records` in force (exported for the start-up path and tests). */
  apply(records: readonly AccountRecord[], version: number): void {
    this.#version = version
    const disconnected = this.#o.table.sync(
      records.map((r) => {
        const configPassword = r.passwordHash?.startsWith(SEEDED) ? this.#o.configPasswords.get(r.id) : undefined
        return { identity: { kind: r.kind, id: r.id }, passwordHash: r.passwordHash, ...(configPassword !== undefined ? { configPassword } : {}) }
      }),
    )
    if (disconnected.length > 0) this.#o.disconnect?.(disconnected)
    const fromConfig = new Map(this.#o.configStations.map((s) => [s.stationId, s]))
    const specs = records.flatMap((r): StationSpec[] => {
      if (r.kind !== 'station') return []
      const c = fromConfig.get(r.id)
      if (c) return [c]
      return r.station ? [{ stationId: r.id, ...r.station }] : []
    })
    const { added, removed } = this.#o.stations.replaceSpecs(specs)
    if (disconnected.length + added.length + removed.length > 0) this.#log.info({ version, disconnected, stationsAdded: added, stationsRemoved: removed }, 'accounts changed')
    this.emit('applied', { version, accounts: records, disconnected, stationsAdded: added, stationsRemoved: removed })
  }
}
