import t from 'tap'
import { MemoryStore } from '../hub/store/index.js'
import { leaseStoreContract } from './helpers/store-lease-contract.js'
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
