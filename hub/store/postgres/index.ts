/**
 * The hub's Store on PostgreSQL (node-postgres): several hub replicas share
 * one database, and the database (constraints, row and advisory locks), not
 * any process's memory, keeps the rules when they write at once. Schema
 * migrations are tracked in the table `voltway_schema`.
 *
 * `PostgresStore.open` connects, installs the `btree_gist` extension when
 * it is missing (the booking window's EXCLUDE constraint needs it; a role
 * that may not install it gets an error saying what to run) and migrates.
 */
import { StoreError } from '../errors.js'
import type { Store } from '../types.js'
import { PgAccountsStore } from './accounts.js'
import { PgChargingStore } from './charging.js'
import { pgCode } from './errors.js'
import { PgIdempotencyStore } from './idempotency.js'
import { PgLeaseStore } from './leases.js'
import { LATEST_VERSION, MIGRATIONS, type Migration } from './migrations.js'
import { LOCK, PgDatabase, type PgDatabaseOptions, type Tx } from './pool.js'
import { PgReservationStore } from './reservations.js'
import { PgTripStore } from './trips.js'
import { PgVehicleCounts } from './vehicle-counts.js'

export type PostgresStoreOptions = PgDatabaseOptions

export class PostgresStore implements Store {
  /** The pool, for sibling sub-stores and tests; anything else goes through the Store interface. */
  readonly db: PgDatabase
  readonly reservations: PgReservationStore
  readonly charging: PgChargingStore
  readonly idempotency: PgIdempotencyStore
  readonly trips: PgTripStore
  readonly leases: PgLeaseStore
  readonly accounts: PgAccountsStore

  private constructor(db: PgDatabase) {
    this.db = db
    // One statement per turn for the limit's counts of both sub-stores (./vehicle-counts.ts).
    const counts = new PgVehicleCounts(db)
    this.reservations = new PgReservationStore(db, counts)
    this.charging = new PgChargingStore(db)
    this.idempotency = new PgIdempotencyStore(db)
    this.trips = new PgTripStore(db, counts)
    this.leases = new PgLeaseStore(db)
    this.accounts = new PgAccountsStore(db)
  }

  /** Connect and migrate. Rejects with StoreError (UNAVAILABLE: cannot connect; SCHEMA_TOO_NEW; DATABASE). */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const db = new PgDatabase(opts)
    try {
      await db.tx((tx) => migrate(tx, db.schema, MIGRATIONS), { unbounded: true })
    } catch (err) {
      await db.close()
      throw err
    }
    return new PostgresStore(db)
  }

  /** The schema version this database is at. */
  async schemaVersion(): Promise<number> {
    const res = await this.db.query<{ v: number | null }>('SELECT MAX(version) AS v FROM voltway_schema')
    return res.rows[0]?.v ?? 0
  }

  /**
   * A write probe that changes no data: a transaction that takes a row lock
   * on the schema table, so a read-only server (a standby, a full disk in
   * read-only mode) or a lost connection fails it.
   */
  async ping(): Promise<void> {
    await this.db.tx(async (tx) => {
      await tx.query('SELECT version FROM voltway_schema ORDER BY version DESC LIMIT 1 FOR UPDATE')
    })
  }

  close(): Promise<void> {
    return this.db.close()
  }
}

/**
 * Apply every migration newer than the database in one transaction, under
 * an advisory lock on the schema, so replicas starting at once apply each
 * migration exactly once (the others wait, then find nothing to do).
 */
async function migrate(tx: Tx, schema: string | null, migrations: readonly Migration[]): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext(COALESCE($2::text, current_schema())))', [LOCK.migrate, schema])
  // Checked first: CREATE SCHEMA needs the CREATE privilege on the database even when the schema exists.
  if (schema && !(await tx.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount) {
    await tx.query(`CREATE SCHEMA ${schema}`)
  }
  await tx.query(`CREATE TABLE IF NOT EXISTS voltway_schema (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`)
  const current = (await tx.query<{ v: number | null }>('SELECT MAX(version) AS v FROM voltway_schema')).rows[0]?.v ?? 0
  if (current > LATEST_VERSION) {
    throw new StoreError('SCHEMA_TOO_NEW', `database schema version ${current} is newer than this Voltway knows (${LATEST_VERSION}); upgrade Voltway`)
  }
  const pending = [...migrations].sort((a, b) => a.version - b.version).filter((m) => m.version > current)
  if (pending.length === 0) return
  await installBtreeGist(tx)
  for (const m of pending) {
    await tx.query(m.sql)
    await tx.query('INSERT INTO voltway_schema (version, name) VALUES ($1, $2)', [m.version, m.name])
  }
}

async function installBtreeGist(tx: Tx): Promise<void> {
  const have = await tx.query("SELECT 1 FROM pg_extension WHERE extname = 'btree_gist'")
  if (have.rowCount) return
  try {
    await tx.query('CREATE EXTENSION IF NOT EXISTS btree_gist')
  } catch (err) {
    // 42501 insufficient_privilege; 0A000/58P01: the extension is not installed on the server.
    const code = pgCode(err)
    const why = code === '42501' ? 'this role may not install it' : `it cannot be installed (${err instanceof Error ? err.message : code})`
    throw new StoreError(
      'DATABASE',
      `the PostgreSQL extension btree_gist is missing and ${why}; as a superuser run "CREATE EXTENSION btree_gist;" in this database (the postgresql-contrib package provides it)`,
      { cause: err },
    )
  }
}
