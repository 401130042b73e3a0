/**
 * The one way the PostgreSQL sub-stores talk to the database: a pg.Pool, a
 * `query` for single statements (autocommit) and a `tx` for work that must
 * read and write atomically. Transactions run at READ COMMITTED; rules that
 * need more take row locks (`SELECT ... FOR UPDATE`) or per-key advisory
 * locks (`lockKeys`), always in a fixed order, so replicas writing at once
 * serialize where they meet and nowhere else. A deadlock or serialization
 * failure the server reports anyway is retried a few times.
 */
import pg from 'pg'
import { StoreError } from '../errors.js'
import { RETRYABLE, STALE_PLAN, connectError, isReadTimeout, pgCode, toStoreError } from './errors.js'

/**
 * Advisory lock namespaces (the first key of `pg_advisory_xact_lock(int, int)`):
 * one per kind of thing locked, so a station's booking lock never waits on
 * its event lock.
 */
export const LOCK = {
  /** Schema migrations (second key: hashtext of the schema name). */
  migrate: 1,
  // 2 was a station's bookings, which the EXCLUDE constraint alone now orders (./reservations.ts); not to be reused.
  /** A station's event log and ack (second key: hashtext of the station id). */
  stationEvents: 3,
} as const

export interface PgDatabaseOptions {
  /** `postgres://user[:password]@host[:port]/database[?...]` (libpq URL syntax). */
  url: string
  /** Schema holding the hub's tables (created when missing). Default: the role's search_path (normally `public`). */
  schema?: string
  /** Most connections the pool opens. Default 10. */
  max?: number
  /** How long a statement waits for a lock held by another writer before failing with StoreError('BUSY'). Default 5000. */
  busyTimeoutMs?: number
  /** How long getting a connection may take before failing with StoreError('UNAVAILABLE'). Default 5000. */
  connectTimeoutMs?: number
  /**
   * How long a statement may go without its answer before failing with StoreError('UNAVAILABLE'),
   * its connection dropped: a server or a network gone silent (no reset, so no error) would
   * otherwise hold the statement, and every caller batched into it, forever. Default 30000, far
   * longer than any statement of a serving hub takes; migrations are not bounded by it.
   */
  queryTimeoutMs?: number
  /** Errors of idle connections (the server restarted); the next query reports it. Default: ignored. */
  onIdleError?: (err: Error) => void
}

/** What a transaction's work may do: run statements on its connection, and nest a savepoint. */
export interface Tx {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>
  /** Run `work` in a SAVEPOINT: if it throws, only its statements are rolled back and the error is rethrown. */
  savepoint<T>(work: () => Promise<T>): Promise<T>
  /**
   * Take the transaction-scoped advisory locks `(ns, hashtext(key))` for every
   * key, in ascending hash order (the same order in every transaction, so two
   * lockers never wait on each other in a cycle). Two keys with one hash
   * share a lock: that only serializes more, never less.
   */
  lockKeys(ns: number, keys: readonly string[]): Promise<void>
}

/** Schema names Voltway accepts: a plain lower-case SQL identifier, so it needs no quoting anywhere. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** int8 (BIGINT, COUNT(*)) as a JS number: epoch milliseconds and counts stay far below 2^53. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === (pg.types.builtins.INT8 as number) && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
}

const MAX_ATTEMPTS = 5

/**
 * Statements with parameters run as named prepared statements, one name per
 * distinct text: each connection parses and plans a statement once, not on
 * every call (the hub sends the same few dozen statements all day).
 */
const statementNames = new Map<string, string>()
function prepared(text: string, values: unknown[]): pg.QueryConfig {
  if (values.length === 0) return { text } // parameterless: migrations may hold several statements, which a prepared statement cannot
  let name = statementNames.get(text)
  if (name === undefined) {
    name = `voltway_${statementNames.size + 1}`
    statementNames.set(text, name)
  }
  return { name, text, values }
}

/** Most connections of each pool of brief statements (PgDatabase.query's `lockTimeoutMs`), beside the main pool. */
export const BRIEF_POOL_MAX = 2

export class PgDatabase {
  readonly pool: pg.Pool
  readonly schema: string | null
  readonly #max: number
  readonly #opts: PgDatabaseOptions
  /** Pools whose connections wait `lockTimeoutMs` for another writer's lock (query's option), by that time. */
  readonly #brief = new Map<number, pg.Pool>()
  #closed = false

  constructor(opts: PgDatabaseOptions) {
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
      throw new StoreError('DATABASE', `schema "${opts.schema}" is not a plain lower-case SQL identifier`)
    }
    this.schema = opts.schema ?? null
    this.#max = opts.max ?? 10
    this.#opts = opts
    this.pool = this.#newPool(this.#max, opts.busyTimeoutMs ?? 5000)
  }

  #newPool(max: number, lockTimeoutMs: number): pg.Pool {
    const pool = new pg.Pool({
      connectionString: this.#opts.url,
      max,
      connectionTimeoutMillis: this.#opts.connectTimeoutMs ?? 5000,
      query_timeout: this.#opts.queryTimeoutMs ?? 30_000,
      lock_timeout: lockTimeoutMs,
      application_name: 'voltway-hub',
      types,
      ...(this.schema ? { options: `-c search_path=${this.schema}` } : {}),
    })
    // Without a listener an idle connection's error (server restart) would crash the process.
    pool.on('error', (err) => this.#opts.onIdleError?.(err))
    return pool
  }

  guard(): void {
    if (this.#closed) throw new StoreError('CLOSED', 'store is closed')
  }

  /**
   * One statement in its own (autocommit) transaction. Rejects with StoreError only; once it
   * rejects, the failed statement's transaction is over on the server, its locks released (see
   * below), so the caller may at once do the same work another way (a failed batch's bookings run
   * alone on other connections).
   * `lockTimeoutMs`: the statement gives up waiting for another writer's lock after
   * that long (BUSY, SQLSTATE 55P03) instead of the pool's `busyTimeoutMs`; it runs on
   * a pool of its own (at most BRIEF_POOL_MAX connections per distinct time, beside
   * `max`), so setting the timeout costs no round trip.
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = [], o: { lockTimeoutMs?: number } = {}): Promise<pg.QueryResult<R>> {
    this.guard()
    const pool = o.lockTimeoutMs === undefined ? this.pool : this.#briefPool(o.lockTimeoutMs)
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect(pool)
      let drop = false
      try {
        return await client.query<R>(prepared(text, values))
      } catch (err) {
        // A stale prepared statement stays on its connection, a statement without an answer may still
        // be running on it: either way the connection goes, and a stale plan runs again on another.
        drop = pgCode(err) === STALE_PLAN || isReadTimeout(err)
        if (pgCode(err) === STALE_PLAN && attempt < MAX_ATTEMPTS) continue
        // The server sends a statement's error before it aborts its transaction: until then the rows it
        // locked stay locked to every other connection (a booking run alone at once skipped an expired
        // slot the failed batch still held, and took the next station). The connection's next statement
        // runs only once the abort is done.
        // Only after an ERROR: a FATAL one (the backend terminated, the server shutting down) ends the session,
        // and its locks with the backend.
        if (!drop && err instanceof pg.DatabaseError && err.severity === 'ERROR') drop = !(await aborted(client))
        throw toStoreError(err)
      } finally {
        client.release(drop)
      }
    }
  }

  /**
   * Run `work` in BEGIN ... COMMIT on one connection (ROLLBACK if it throws).
   * A deadlock or serialization failure reruns `work` from the start, up to
   * five times; `work` must therefore only touch the database through `tx`.
   */
  async tx<T>(work: (tx: Tx) => Promise<T>, o: { unbounded?: boolean } = {}): Promise<T> {
    this.guard()
    // `unbounded`: no queryTimeoutMs (migrations, which may rebuild a large table).
    const timeout = o.unbounded ? { query_timeout: UNBOUNDED_MS } : {}
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect(this.pool)
      let broken = false
      try {
        await client.query({ text: 'BEGIN', ...timeout })
        const out = await work(txOf(client, timeout))
        await client.query({ text: 'COMMIT', ...timeout })
        return out
      } catch (err) {
        if (isReadTimeout(err)) broken = true
        else {
          try {
            await client.query('ROLLBACK')
          } catch {
            broken = true
          }
        }
        // A stale prepared statement stays on its connection: drop the connection, run again on another.
        if (pgCode(err) === STALE_PLAN) broken = true
        if (attempt < MAX_ATTEMPTS && (RETRYABLE.has(pgCode(err)) || pgCode(err) === STALE_PLAN)) continue
        throw toStoreError(err)
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: destroy it rather than reuse it.
        client.release(broken)
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([this.pool.end(), ...[...this.#brief.values()].map((p) => p.end())])
  }

  #briefPool(lockTimeoutMs: number): pg.Pool {
    let pool = this.#brief.get(lockTimeoutMs)
    if (!pool) {
      pool = this.#newPool(BRIEF_POOL_MAX, lockTimeoutMs)
      this.#brief.set(lockTimeoutMs, pool)
    }
    return pool
  }

  async #connect(pool: pg.Pool): Promise<pg.PoolClient> {
    try {
      return await pool.connect()
    } catch (err) {
      // Every pooled connection was in use for the whole wait: the database is busy, not gone
      // (BUSY keeps /healthz's database up; UNAVAILABLE would mark it down).
      // The brief pools' size is fixed: store.poolSize does not raise it, so their message does not point at it.
      const which = pool === this.pool ? `all ${this.#max} pooled connections stayed in use (store.poolSize)` : `all ${BRIEF_POOL_MAX} connections for batches of bookings stayed in use`
      if (pool.totalCount >= (pool === this.pool ? this.#max : BRIEF_POOL_MAX) && !this.#closed) throw new StoreError('BUSY', `database is busy: ${which}`, { cause: err })
      throw connectError(err)
    }
  }
}

/** The longest timer Node keeps (about 24.8 days): a statement bounded by nothing else. */
const UNBOUNDED_MS = 2 ** 31 - 1

/**
 * Run a statement on `client` after one that failed: node-postgres rejects at the server's error,
 * before its ReadyForQuery, so the answer to this one means the failed one's transaction is aborted
 * and its locks released. False when the connection cannot answer (drop it).
 */
async function aborted(client: pg.PoolClient): Promise<boolean> {
  // Should the connection die meanwhile, its 'error' event must not go unheard (an uncaught exception).
  const ignore = (): void => undefined
  client.on('error', ignore)
  try {
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    client.off('error', ignore)
  }
}

function txOf(client: pg.PoolClient, timeout: { query_timeout?: number }): Tx {
  let savepoints = 0
  const tx: Tx = {
    query: (text, values = []) => client.query({ ...prepared(text, values), ...timeout }),
    async savepoint(work) {
      const name = `sp_${++savepoints}`
      await client.query(`SAVEPOINT ${name}`)
      try {
        const out = await work()
        await client.query(`RELEASE SAVEPOINT ${name}`)
        return out
      } catch (err) {
        await client.query(`ROLLBACK TO SAVEPOINT ${name}`)
        throw err
      }
    },
    async lockKeys(ns, keys) {
      if (keys.length === 0) return
      await client.query(
        `SELECT pg_advisory_xact_lock($1, k) FROM (SELECT DISTINCT hashtext(key) AS k FROM unnest($2::text[]) AS key ORDER BY k) AS sorted`,
        [ns, [...keys]],
      )
    },
  }
  return tx
}
