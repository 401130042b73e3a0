/** better-sqlite3 errors -> StoreError, so no driver error crosses the Store boundary. */
import { StoreError } from '../errors.js'

function sqliteCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code
  return undefined
}

/** SQLite result codes (and their extended `_...` forms) that mean the storage cannot take writes now. */
const UNAVAILABLE = ['SQLITE_READONLY', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_PERM', 'SQLITE_AUTH'] as const

export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err
  const code = sqliteCode(err) ?? ''
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') {
    return new StoreError('BUSY', 'database is busy', { cause: err })
  }
  if (UNAVAILABLE.some((c) => code === c || code.startsWith(`${c}_`))) {
    return new StoreError('UNAVAILABLE', err instanceof Error ? err.message : 'database cannot be written', { cause: err })
  }
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return new StoreError('DUPLICATE_ID', 'id exists', { cause: err })
  }
  return new StoreError('DATABASE', err instanceof Error ? err.message : 'database error', { cause: err })
}

/** Run synchronous driver work as a Store method: a Promise that rejects only with StoreError. */
export function run<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work())
  } catch (err) {
    return Promise.reject(toStoreError(err))
  }
}
