/**
 * The hub's Store on one SQLite file (better-sqlite3): WAL so readers never
 * wait for the writer, a busy timeout so concurrent writers (other processes
 * on the same file included) queue instead of failing, and schema
 * migrations tracked by `PRAGMA user_version`.
 *
 * better-sqlite3 is synchronous: a write that waits for another process's
 * lock blocks this event loop for up to `busyTimeoutMs`. For one hub on one
 * machine that is the right trade (transactions here last microseconds);
 * several replicas should share PostgreSQL instead.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { StoreError } from '../errors.js'
import type { Store } from '../types.js'
import { run, toStoreError } from './errors.js'
import { LATEST_VERSION, MIGRATIONS, type Migration } from './migrations.js'
import { SqliteChargingStore } from './charging.js'
import { SqliteIdempotencyStore } from './idempotency.js'
import { SqliteLeaseStore } from './leases.js'
import { SqliteReservationStore } from './reservations.js'
import { SqliteTripStore } from './trips.js'
import { SqliteAccountsStore } from './accounts.js'
import { SqliteKeyedReservations } from './keyed-reservations.js'
import { SqlitePeerHoldWrites } from './peer-hold-writes.js'
import { SqliteTripWrites } from './trip-writes.js'
import { startCheckpointer, type Checkpointer } from './checkpointer.js'
import { makeDirectory } from '../../../base/make-directory.js'

/** `PRAGMA application_id` of a Voltway hub database: "VWAY". */
const APPLICATION_ID = 1448558937

export interface SqliteStoreOptions {
  /** Directory of the database file; created when missing. */
  dataDir: string
  /** File name inside `dataDir`. Default `hub.sqlite`. */
  fileName?: string
  /** How long a write waits for another writer's lock before failing with StoreError('BUSY'). Default 5000. */
  busyTimeoutMs?: number
  /**
   * Answer reservations.findBookings and the per-vehicle limits (this hub's vehicles, and peers' from the
   * peer-hold ledger) from memory, kept coherent with the file (./connection-indexes.ts). Default true.
   */
  bookingIndex?: boolean
  /**
   * WAL checkpoints in a worker thread (./checkpointer.ts) instead of inside the COMMIT that crosses
   * 1,000 pages: for a serving hub. Default false (short-lived commands, tests).
   */
  backgroundCheckpoints?: boolean
}

/** With background checkpoints, the writer's own checkpoint only past this many WAL pages (~40 MB): a safety net. */
const SAFETY_NET_PAGES = 10_000

export class SqliteStore implements Store {
  /** Absolute path of the database file. */
  readonly file: string
  /**
   * The connection, for sibling sub-stores constructed in this file only.
   * Anything else goes through the Store interface.
   */
  readonly db: Database.Database
  readonly reservations: SqliteReservationStore
  readonly charging: SqliteChargingStore
  readonly idempotency: SqliteIdempotencyStore
  readonly trips: SqliteTripStore
  readonly leases: SqliteLeaseStore
  readonly accounts: SqliteAccountsStore
  readonly peerHolds: SqlitePeerHoldWrites
  readonly keyedReservations: SqliteKeyedReservations
  readonly tripWrites: SqliteTripWrites
  #closed = false
  #checkpointer: Checkpointer | null = null

  /** Opens (creating if needed) and migrates the database. Throws StoreError. */
  constructor(opts: SqliteStoreOptions) {
    makeDirectory(opts.dataDir)
    this.file = join(opts.dataDir, opts.fileName ?? 'hub.sqlite')
    const busyTimeoutMs = opts.busyTimeoutMs ?? 5000
    let db: Database.Database | undefined
    try {
      db = new Database(this.file, { timeout: busyTimeoutMs })
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`)
      // Before anything writes (journal_mode = WAL does): a file a newer Voltway migrated is left exactly as it was.
      refuseNewerSchema(db)
      db.pragma('journal_mode = WAL')
      // NORMAL is durable across application crashes in WAL mode; only a power cut may lose the last commits.
      db.pragma('synchronous = NORMAL')
      db.pragma('foreign_keys = ON')
      migrate(db, MIGRATIONS)
      if (opts.backgroundCheckpoints) db.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`)
    } catch (err) {
      db?.close()
      throw toStoreError(err)
    }
    this.db = db
    if (opts.backgroundCheckpoints) this.#checkpointer = startCheckpointer(this.file)
    const guard = (): void => {
      if (this.#closed) throw new StoreError('CLOSED', 'store is closed')
    }
    this.reservations = new SqliteReservationStore(db, guard, opts.bookingIndex === undefined ? {} : { bookingIndex: opts.bookingIndex })
    this.charging = new SqliteChargingStore(db, guard)
    this.idempotency = new SqliteIdempotencyStore(db, guard)
    this.trips = new SqliteTripStore(db, guard, opts.bookingIndex === undefined ? {} : { bookingIndex: opts.bookingIndex })
    this.leases = new SqliteLeaseStore(db, guard)
    this.accounts = new SqliteAccountsStore(db, guard)
    this.peerHolds = new SqlitePeerHoldWrites(this.reservations, this.trips, this.idempotency)
    this.keyedReservations = new SqliteKeyedReservations(this.reservations, this.idempotency)
    this.tripWrites = new SqliteTripWrites(this.reservations, this.trips, this.leases, this.idempotency)
  }

  /** The schema version this file is at (`PRAGMA user_version`). */
  get schemaVersion(): number {
    return userVersion(this.db)
  }

  /**
   * A write probe that changes no data: rewrites the file header's
   * application id (always the same value) in a write transaction, so a
   * read-only file or file system, an I/O error or a lost lock fails it.
   */
  ping(): Promise<void> {
    return run(() => {
      if (this.#closed) throw new StoreError('CLOSED', 'store is closed')
      this.db.pragma(`application_id = ${APPLICATION_ID}`)
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // The worker's connection first: the last one to close checkpoints and removes the WAL.
    await this.#checkpointer?.close()
    this.db.close()
  }
}

function userVersion(db: Database.Database): number {
  const v = db.pragma('user_version', { simple: true })
  return typeof v === 'number' ? v : 0
}

/**
 * Apply every migration newer than the file, each in its own BEGIN IMMEDIATE
 * transaction that re-reads the version first, so two processes opening a new
 * file at once apply each migration exactly once.
 */
function refuseNewerSchema(db: Database.Database): void {
  const current = userVersion(db)
  if (current > LATEST_VERSION) {
    throw new StoreError(
      'SCHEMA_TOO_NEW',
      `database schema version ${current} is newer than this Voltway knows (${LATEST_VERSION}); upgrade Voltway`,
    )
  }
}

function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  refuseNewerSchema(db)
  const ordered = [...migrations].sort((a, b) => a.version - b.version)
  for (const m of ordered) {
    const apply = db.transaction(() => {
      if (userVersion(db) >= m.version) return
      db.exec(m.sql)
      db.pragma(`user_version = ${m.version}`)
    })
    apply.immediate()
  }
}
