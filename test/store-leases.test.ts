import t from 'tap'
import { MemoryStore } from '../hub/store/index.js'
import { leaseStoreContract } from './helpers/store-lease-contract.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'
import { tempSqlite } from './helpers/store-sqlite.js'

leaseStoreContract(t, 'MemoryStore', async () => {
  const store = new MemoryStore()
  return { store, other: () => store, dispose: () => store.close() }
})

leaseStoreContract(t, 'SqliteStore', async () => {
  const tmp = tempSqlite()
  const store = tmp.open()
  return { store, other: () => tmp.open(), dispose: () => tmp.dispose() }
})

const pgSkip = await postgresSkipReason()
if (pgSkip) {
  t.skip(`SKIP PostgresStore: ${pgSkip}`, () => undefined)
} else {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  leaseStoreContract(t, 'PostgresStore', async () => {
    const schema = pg.schema()
    const [store, other] = await Promise.all([schema.open(), schema.open()])
    return { store, other: () => other, dispose: () => schema.dispose() }
  })
}
