/** node-postgres errors -> StoreError, so no driver error crosses the Store boundary. */
import { StoreError } from '../errors.js'

/** The SQLSTATE of a server error, or the errno code of a socket error (ECONNREFUSED...). */
export function pgCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code
  return ''
}

/** node-postgres's error of a statement that got no answer within its query_timeout (it carries no code). */
export function isReadTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Query read timeout' && pgCode(err) === ''
}

/** SQLSTATEs a transaction is simply run again for: serialization failure, deadlock detected. */
export const RETRYABLE = new Set(['40001', '40P01'])
/**
 * feature_not_supported, as "cached plan must not change result type": a
 * prepared statement (./pool.ts) whose table another replica migrated. The
 * connection is dropped and the work run again on a fresh one.
 */
export const STALE_PLAN = '0A000'
/** unique_violation (primary keys and unique indexes). */
export const UNIQUE_VIOLATION = '23505'
/** exclusion_violation (the booking window's EXCLUDE constraint). */
export const EXCLUSION_VIOLATION = '23P01'
/** Voltway's own: a batch of bookings whose pick the EXCLUDE constraint refused (voltway_pick_refused, ./migrations.ts version 5). */
export const PICK_REFUSED = 'VW001'

/**
 * SQLSTATE classes and codes that mean the database cannot take writes now:
 * 08 connection exceptions, 53 insufficient resources (disk full, out of
 * memory, too many connections), 57P01-57P03 the server shutting down or
 * starting, 25006 a read-only transaction (a hot standby), 28 bad
 * credentials, 3D000 no such database; and the socket errors of a server
 * that is not there.
 */
function unavailable(code: string): boolean {
  return (
    code.startsWith('08') ||
    code.startsWith('53') ||
    code.startsWith('28') ||
    ['57P01', '57P02', '57P03', '25006', '3D000', 'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'].includes(code)
  )
}

/**
 * Whether one question of a batched statement may have caused `err`, so that
 * asking each again alone (TurnBatch's aloneOnFailure) gives each caller its own
 * answer: a value or id the database refuses, a row another writer held (lock
 * timeout, deadlock). Not a database that cannot be reached, a store closed or
 * a pool that stayed full: every caller gets that error at once.
 */
export function oneQuestionMayCause(err: unknown): boolean {
  const e = toStoreError(err)
  if (e.code === 'UNAVAILABLE' || e.code === 'CLOSED') return false
  return e.code !== 'BUSY' || ['55P03', '40P01', '40001', '57014'].includes(pgCode(e.cause))
}

/** Errors of getting a connection (refused, timed out, bad credentials): the database cannot be reached. */
export function connectError(err: unknown): StoreError {
  if (err instanceof StoreError) return err
  return new StoreError('UNAVAILABLE', err instanceof Error && err.message ? err.message : 'cannot connect to the database', { cause: err })
}

export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err
  const code = pgCode(err)
  const message = err instanceof Error && err.message ? err.message : 'database error'
  // The server or the network went silent (./pool.ts queryTimeoutMs).
  if (isReadTimeout(err)) return new StoreError('UNAVAILABLE', 'the database did not answer a statement in time; its connection was dropped, the next statement opens another', { cause: err })
  // 55P03 lock_not_available, 57014 statement timeout, and retries that ran out: another writer held on too long.
  if (code === '55P03' || code === '57014' || RETRYABLE.has(code)) return new StoreError('BUSY', 'database is busy', { cause: err })
  if (unavailable(code)) return new StoreError('UNAVAILABLE', message, { cause: err })
  if (code === UNIQUE_VIOLATION) return new StoreError('DUPLICATE_ID', 'id exists', { cause: err })
  return new StoreError('DATABASE', message, { cause: err })
}
