/**
 * Temporary PostgreSQL databases for tests. A test file creates its own
 * database (`voltway_test_<random>`, with btree_gist installed as an
 * operator would) and drops it at the end; each check gets its own schema
 * in it, which is much faster than a database per check and runs the
 * store's `schema` option on every check.
 *
 * The server: VOLTWAY_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test
 * (the CI machine's PostgreSQL 15, trust auth). When it cannot be reached
 * the tests skip and say so.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { PostgresStore, type PostgresStoreOptions } from '../../hub/store/index.js'

export const PG_ADMIN_URL = process.env.VOLTWAY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  await c.connect()
  try {
    return await work(c)
  } finally {
    await c.end()
  }
}

/** Null when PostgreSQL answers at PG_ADMIN_URL; otherwise why the PostgreSQL tests skip. */
export async function postgresSkipReason(): Promise<string | null> {
  try {
    await withClient(PG_ADMIN_URL, (c) => c.query('SELECT 1'))
    return null
  } catch (err) {
    return `PostgreSQL is not reachable at ${PG_ADMIN_URL} (${err instanceof Error ? err.message : String(err)}); .ci/run starts it, or set VOLTWAY_TEST_PG_URL`
  }
}

/** A URL of the same server and role for another database. */
function urlFor(database: string): string {
  const u = new URL(PG_ADMIN_URL)
  u.pathname = `/${database}`
  return u.toString()
}

export interface PgSchema {
  name: string
  /** A new PostgresStore (its own pool) on this schema. */
  open(opts?: Partial<PostgresStoreOptions>): Promise<PostgresStore>
  /** Close every store opened here and drop the schema. */
  dispose(): Promise<void>
}

export interface TempPostgres {
  database: string
  /** The database's URL (no schema: tables land in `public`). */
  url: string
  /** A fresh, empty schema in this database. */
  schema(): PgSchema
  /** Run SQL as the admin role in this database. */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>
  /** Drop the database (after closing whatever is still connected to it). */
  dispose(): Promise<void>
}

/** Create `voltway_test_<random>`; with `btreeGist` false the extension is left for the store to install. */
export async function tempPostgres(opts: { btreeGist?: boolean } = {}): Promise<TempPostgres> {
  const database = `voltway_test_${randomBytes(6).toString('hex')}`
  await withClient(PG_ADMIN_URL, (c) => c.query(`CREATE DATABASE ${database}`))
  const url = urlFor(database)
  const sql = <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) => withClient(url, (c) => c.query<R>(text, values))
  if (opts.btreeGist !== false) await sql('CREATE EXTENSION btree_gist')
  let n = 0
  const opened: PostgresStore[] = []
  return {
    database,
    url,
    sql,
    schema() {
      const name = `s_${++n}`
      const mine: PostgresStore[] = []
      return {
        name,
        async open(o = {}) {
          const store = await PostgresStore.open({ url, schema: name, ...o })
          mine.push(store)
          opened.push(store)
          return store
        },
        async dispose() {
          for (const s of mine) await s.close()
          await sql(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
        },
      }
    },
    async dispose() {
      for (const s of opened) await s.close()
      await withClient(PG_ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
    },
  }
}

/**
 * Two stores on two fresh schemas of one new database (dropped at the end of `t`), each seeded
 * by `seed`: the same questions asked one after another on the first and in a burst on the second
 * must give the same answers and rows (the per-turn batching tests).
 */
export async function seededTwins(t: { teardown(fn: () => Promise<void>): void }, seed: (store: PostgresStore) => Promise<void>): Promise<{ one: PostgresStore; burst: PostgresStore }> {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const one = await pg.schema().open({ max: 4 })
  const burst = await pg.schema().open({ max: 4 })
  await seed(one)
  await seed(burst)
  return { one, burst }
}
