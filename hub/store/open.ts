/**
 * Opening the hub's database at start: a `dataDir` or database that cannot be
 * created, opened or written is a ConfigError (exit 2) naming the directory
 * (or the PostgreSQL URL, without its password) and the cause, never a hub
 * that says `ready` and then fails every write. A PostgreSQL server that is
 * not reachable yet is not a config error: the StoreError UNAVAILABLE exits 1,
 * so systemd starts the hub again once the database is up. A database a newer
 * Voltway migrated (SCHEMA_TOO_NEW) is a ConfigError too: another start cannot help.
 */
import { ConfigError, makeConfiguredDirectory } from '../../protocol/index.js'
import { StoreError } from './errors.js'
import { PostgresStore } from './postgres/index.js'
import { SqliteStore } from './sqlite/index.js'
import type { Store } from './types.js'

const HINT = 'check that the directory exists or can be created, that the hub\'s user may write it, that its file system is not mounted read-only and has free space'
const PG_HINT = 'check the URL, that the role exists and may connect, create tables and write in the database (docs/operator-guide.md, "PostgreSQL")'
const TOO_NEW_HINT = 'a newer Voltway migrated it: run that release (or a later one) again, or restore the backup taken before the upgrade (docs/operator-guide.md, "The database and backups")'

/** A database migrated by a newer Voltway (StoreError SCHEMA_TOO_NEW), at start: exit 2 like any ConfigError, since starting again cannot help. */
export class SchemaTooNewError extends ConfigError {}

function schemaTooNew(label: string, err: StoreError): SchemaTooNewError {
  return new SchemaTooNewError(`hub.json: ${label}: ${err.message.replace(/; upgrade Voltway$/, '')}; ${TOO_NEW_HINT}`)
}

export interface OpenOptions {
  /** For a running hub (not a one-off command): SQLite checkpoints its WAL in a worker thread (sqlite/checkpointer.ts). */
  serving?: boolean
}

/** hub.json `store` (docs/configuration.md), as hub/config.ts validates it. */
export type StoreConfig = { type: 'sqlite' } | { type: 'postgres'; url: string; schema?: string | undefined; poolSize?: number | undefined }

/** How messages name the store: `dataDir "..."`, or `store "postgres://role@host:port/db"` with no password. */
export function storeLabel(store: StoreConfig, dataDir: string): string {
  if (store.type === 'sqlite') return `dataDir "${dataDir}"`
  let shown = store.url
  try {
    const u = new URL(store.url)
    u.password = ''
    u.search = ''
    shown = u.toString()
  } catch {
    shown = 'postgres://(unparsable URL)'
  }
  return `store "${shown}${store.schema ? `" (schema ${store.schema})` : '"'}`
}

/**
 * Open the store hub.json names: SQLite in `dataDir` (openHubDatabase) or
 * PostgreSQL (connect, install btree_gist if missing, migrate). Throws
 * ConfigError when the configuration cannot work; StoreError UNAVAILABLE
 * when the PostgreSQL server does not answer (yet).
 */
export async function openHubStore(store: StoreConfig, dataDir: string, o: OpenOptions = {}): Promise<Store> {
  if (store.type === 'sqlite') return openHubDatabase(dataDir, o)
  try {
    return await PostgresStore.open({ url: store.url, ...(store.schema ? { schema: store.schema } : {}), ...(store.poolSize ? { max: store.poolSize } : {}) })
  } catch (err) {
    if (err instanceof StoreError && err.code === 'SCHEMA_TOO_NEW') throw schemaTooNew(storeLabel(store, dataDir), err)
    if (err instanceof StoreError && !isTransient(err)) {
      throw new ConfigError(`hub.json: ${storeLabel(store, dataDir)}: cannot open the database: ${err.message}; ${PG_HINT}`)
    }
    if (err instanceof StoreError && err.code === 'UNAVAILABLE') {
      // Still UNAVAILABLE (exit 1: systemd tries again), but naming the store: a bare ECONNREFUSED reads like the broker's.
      throw new StoreError('UNAVAILABLE', `hub.json: ${storeLabel(store, dataDir)}: the PostgreSQL server does not answer (${err.message}); check that it runs and listens where store.url points (the hub exits 1, so systemd starts it again)`, { cause: err.cause ?? err })
    }
    throw err
  }
}

/** A server that refuses or drops connections, or is starting or stopping: worth trying again later. */
function isTransient(err: StoreError): boolean {
  const cause = err.cause as { code?: unknown } | undefined
  const code = typeof cause?.code === 'string' ? cause.code : ''
  return err.code === 'UNAVAILABLE' && !code.startsWith('28') && code !== '3D000'
}

/**
 * Open (creating and migrating if needed) `<dataDir>/hub.sqlite`. Throws
 * ConfigError when it cannot, labelled `hub.json: dataDir "...": ...` like the
 * other start-up checks (hub/config.ts inConfigFile puts the real file in).
 */
export function openHubDatabase(dataDir: string, o: OpenOptions = {}): SqliteStore {
  makeConfiguredDirectory(dataDir, `hub.json: dataDir "${dataDir}"`, HINT)
  try {
    return new SqliteStore({ dataDir, ...(o.serving ? { backgroundCheckpoints: true } : {}) })
  } catch (err) {
    if (err instanceof StoreError && err.code === 'SCHEMA_TOO_NEW') throw schemaTooNew(storeLabel({ type: 'sqlite' }, dataDir), err)
    if (err instanceof StoreError && (err.code === 'UNAVAILABLE' || err.code === 'DATABASE')) {
      throw new ConfigError(`hub.json: dataDir "${dataDir}": cannot open the database: ${err.message}; ${HINT}`)
    }
    throw err
  }
}

/** Resolves when `store` takes a write (its probe); else throws ConfigError naming `dataDir` (or the PostgreSQL store). */
export async function assertWritable(store: Pick<Store, 'ping'>, dataDir: string, config: StoreConfig = { type: 'sqlite' }): Promise<void> {
  try {
    await store.ping()
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new ConfigError(`hub.json: ${storeLabel(config, dataDir)}: the database cannot be written (${reason}); ${config.type === 'sqlite' ? HINT : PG_HINT}`)
  }
}
