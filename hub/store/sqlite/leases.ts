/**
 * LeaseStore on SQLite: `acquire` is one conditional upsert (the rule
 * `mayAcquire` of ../lease-rules.ts as the upsert's WHERE), run in a write
 * transaction (BEGIN IMMEDIATE via the connection's WriteBatcher), so
 * replicas on one file take a lease one at a time.
 */
import type { Database, Statement } from 'better-sqlite3'
import type { AcquireLeaseInput, LeaseStore } from '../leases.js'
import { WriteBatcher } from './write-batcher.js'

export class SqliteLeaseStore implements LeaseStore {
  readonly #s: {
    acquire: Statement<[string, string, number, string, number]>
    renewAll: Statement<[number, string]>
    release: Statement<[string, string]>
    deleteExpired: Statement<[number]>
  }
  readonly #write: <T>(work: () => T) => Promise<T>

  constructor(db: Database, guard: () => void) {
    this.#write = WriteBatcher.for(db).writer(guard)
    this.#s = {
      // rule: mayAcquire (lease-rules.ts): free, the caller's own, or expired.
      acquire: db.prepare<[string, string, number, string, number]>(
        `INSERT INTO leases (name, owner, expires_at_ms) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
         WHERE leases.owner = ? OR leases.expires_at_ms <= ?`,
      ),
      renewAll: db.prepare<[number, string]>('UPDATE leases SET expires_at_ms = ? WHERE owner = ?'),
      release: db.prepare<[string, string]>('DELETE FROM leases WHERE name = ? AND owner = ?'),
      deleteExpired: db.prepare<[number]>('DELETE FROM leases WHERE expires_at_ms <= ?'),
    }
  }

  acquire(input: AcquireLeaseInput): Promise<boolean> {
    return this.#write(() => this.acquireInWrite(input))
  }

  /** acquire's work, inside a write of this connection (./trip-writes.ts): one statement. */
  acquireInWrite(input: AcquireLeaseInput): boolean {
    return this.#s.acquire.run(input.name, input.owner, input.nowMs + input.ttlMs, input.owner, input.nowMs).changes > 0
  }

  renewAll(input: { owner: string; nowMs: number; ttlMs: number }): Promise<number> {
    return this.#write(() => this.#s.renewAll.run(input.nowMs + input.ttlMs, input.owner).changes)
  }

  release(name: string, owner: string): Promise<void> {
    return this.#write(() => {
      this.#s.release.run(name, owner)
    })
  }

  deleteExpired(nowMs: number): Promise<number> {
    return this.#write(() => this.#s.deleteExpired.run(nowMs).changes)
  }
}
