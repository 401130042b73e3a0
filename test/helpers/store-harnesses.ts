/**
 * Run a store contract suite on every Store: memory, SQLite (a second
 * connection to the same file as `other`) and PostgreSQL (a second pool on
 * the same schema), the last skipped with its reason when no server answers.
 */
import type { Test } from 'tap'
import { MemoryStore, type Store } from '../../hub/store/index.js'
import type { FedStoreHarness } from './federation-store-contract.js'
import { postgresSkipReason, tempPostgres } from './store-postgres.js'
import { tempSqlite } from './store-sqlite.js'

export type StoreContractSuite = (t: Test, name: string, open: () => Promise<FedStoreHarness>) => void

export async function onEveryStore(t: Test, suite: StoreContractSuite): Promise<void> {
  suite(t, 'MemoryStore', async () => {
    const store = new MemoryStore()
    return { store, other: () => store, dispose: () => store.close() }
  })
  suite(t, 'SqliteStore', async () => {
    const tmp = tempSqlite()
    const store = tmp.open()
    return { store, other: () => tmp.open(), dispose: () => tmp.dispose() }
  })
  const pgSkip = await postgresSkipReason()
  if (pgSkip) {
    t.skip(`SKIP PostgresStore: ${pgSkip}`, () => undefined)
    return
  }
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  suite(t, 'PostgresStore', async () => {
    const schema = pg.schema()
    const [store, other] = await Promise.all([schema.open(), schema.open()])
    return { store, other: () => other, dispose: () => schema.dispose() }
  })
}

/** Opens one more connection (a "replica") to the kind's one database. */
export type ReplicaOpener = () => Promise<Store>

/** One kind of store shared by replicas: `setup` makes its database (removed at `t`'s end) and returns how to open it. */
export interface SharedStoreKind {
  kind: 'memory' | 'sqlite' | 'postgres'
  /** Why the kind is skipped here (no PostgreSQL server), or false. */
  skip: string | false
  setup(t: { teardown(fn: () => Promise<void> | void): void }): Promise<ReplicaOpener>
}

/**
 * The kinds of store replicas can share, in the order asked: memory (one MemoryStore is one database: every
 * "replica" gets it), SQLite (a connection per open to one file), PostgreSQL (a pool of 4 per open on one
 * schema; skipped with its reason when no server answers).
 */
export async function sharedStoreKinds(kinds: ReadonlyArray<SharedStoreKind['kind']>): Promise<SharedStoreKind[]> {
  const pgSkip = (await postgresSkipReason()) ?? false
  const all: Record<SharedStoreKind['kind'], SharedStoreKind> = {
    memory: {
      kind: 'memory',
      skip: false,
      async setup() {
        const store = new MemoryStore()
        return async () => store
      },
    },
    sqlite: {
      kind: 'sqlite',
      skip: false,
      async setup(t) {
        const s = tempSqlite()
        t.teardown(() => s.dispose())
        return async () => s.open()
      },
    },
    postgres: {
      kind: 'postgres',
      skip: pgSkip,
      async setup(t) {
        const db = await tempPostgres()
        t.teardown(() => db.dispose())
        const schema = db.schema()
        return () => schema.open({ max: 4 })
      },
    },
  }
  return kinds.map((k) => all[k])
}
