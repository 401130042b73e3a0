/**
 * Errors a Store raises for conditions that are not a user's fault. Handlers
 * let them through; BUSY and UNAVAILABLE become the wire code
 * STORAGE_UNAVAILABLE at the hub's edges (./availability.ts), the rest INTERNAL.
 */
export type StoreErrorCode =
  /** Another writer held the database longer than the busy timeout. */
  | 'BUSY'
  /** The store was used after `close()`. */
  | 'CLOSED'
  /** An insert reused an id that already exists. */
  | 'DUPLICATE_ID'
  /** The database cannot take writes: read-only file or file system, disk full, I/O error, cannot open. */
  | 'UNAVAILABLE'
  /** The database was written by a newer Voltway (its schema version is unknown here). */
  | 'SCHEMA_TOO_NEW'
  /** Anything else the database engine reported. */
  | 'DATABASE'

export class StoreError extends Error {
  readonly code: StoreErrorCode

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreError'
    this.code = code
  }
}

/**
 * Whether `err` says the database could not take a write now (locked past its busy timeout,
 * unavailable, closed): a further write at once would wait and fail the same way.
 */
export function cannotWrite(err: unknown): boolean {
  return err instanceof StoreError && (err.code === 'BUSY' || err.code === 'UNAVAILABLE' || err.code === 'CLOSED')
}
