/**
 * Run a store contract suite on every Store: memory, SQLite (a second
 * connection to the same file as `other`) and PostgreSQL (a second pool on
 * the same schema), the last skipped with its reason when no server answers.
 */
import type { Test } from 'tap'
import { MemoryStore } from '../../hub/store/index.js'
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
