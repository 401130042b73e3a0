/**
 * Leases: which hub replica owns a piece of background work (an unfinished
 * trip, a queued release, the database's sweeper) for now.
 *
 * A lease is a named row `(name, owner, expiresAtMs)`. Its owner keeps it by
 * renewing all its leases at once (`renewAll`, a heartbeat) while it lives;
 * when the owner dies the lease runs out and a live replica may `acquire` it
 * and take the work over. An owner is a replica name, so a replica restarted
 * under its old name gets its own leases back at once.
 */

export interface AcquireLeaseInput {
  /** What the lease guards, e.g. `trip:<tripId>`, `release:<releaseId>`, `sweeper`. */
  name: string
  /** The replica asking. */
  owner: string
  nowMs: number
  /** How long the lease lasts without renewal. */
  ttlMs: number
}

/**
 * Contract (in addition to the general Store contract in ./types.ts):
 * - `acquire` is atomic: it takes the lease, and resolves true, when it is
 *   free, expired (`expiresAtMs <= nowMs`) or already the caller's (then it is
 *   renewed); otherwise it changes nothing and resolves false. Of concurrent
 *   acquires of a free lease, in any number of processes on one database,
 *   exactly one resolves true (SQLite: one write transaction; PostgreSQL:
 *   `INSERT ... ON CONFLICT DO UPDATE ... WHERE` or `SELECT ... FOR UPDATE SKIP LOCKED`).
 * - `renewAll` extends every lease of `owner` to `nowMs + ttlMs`, expired
 *   ones included (an owner that is alive still holds them unless another
 *   has acquired them meanwhile); resolves how many.
 * - `release` deletes the lease if `owner` holds it.
 * - `deleteExpired` removes leases with `expiresAtMs <= nowMs` (housekeeping).
 */
export interface LeaseStore {
  acquire(input: AcquireLeaseInput): Promise<boolean>
  renewAll(input: { owner: string; nowMs: number; ttlMs: number }): Promise<number>
  release(name: string, owner: string): Promise<void>
  deleteExpired(nowMs: number): Promise<number>
}
