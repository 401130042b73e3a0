/**
 * Opening the hub's database at start: a `dataDir` or database that cannot be
 * created, opened or written is a ConfigError (exit 2) naming the directory
 * and the cause, never a hub that says `ready` and then fails every write.
 */
import { mkdirSync } from 'node:fs'
import { ConfigError } from '../../protocol/index.js'
import { StoreError } from './errors.js'
import { SqliteStore } from './sqlite/index.js'
import type { Store } from './types.js'

const HINT = 'check that the directory exists or can be created, that the hub\'s user may write it, that its file system is not mounted read-only and has free space'

/**
 * Open (creating and migrating if needed) `<dataDir>/hub.sqlite`. Throws
 * ConfigError when it cannot, labelled `hub.json: dataDir "...": ...` like the
 * other start-up checks (hub/config.ts inConfigFile puts the real file in).
 */
export function openHubDatabase(dataDir: string): SqliteStore {
  try {
    mkdirSync(dataDir, { recursive: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(`hub.json: dataDir "${dataDir}": cannot create the directory${code ? ` (${code})` : ''}; ${HINT}`)
  }
  try {
    return new SqliteStore({ dataDir })
  } catch (err) {
    if (err instanceof StoreError && (err.code === 'UNAVAILABLE' || err.code === 'DATABASE')) {
      throw new ConfigError(`hub.json: dataDir "${dataDir}": cannot open the database: ${err.message}; ${HINT}`)
    }
    throw err
  }
}

/** Resolves when `store` takes a write (its probe); else throws ConfigError naming `dataDir`. */
export async function assertWritable(store: Pick<Store, 'ping'>, dataDir: string): Promise<void> {
  try {
    await store.ping()
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new ConfigError(`hub.json: dataDir "${dataDir}": the database cannot be written (${reason}); ${HINT}`)
  }
}
