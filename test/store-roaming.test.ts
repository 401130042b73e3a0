/** The roaming sessions of the charging sub-store, on memory, SQLite and PostgreSQL. */
import t from 'tap'
import { roamingStoreContract } from './helpers/store-roaming-contract.js'
import { onEveryStore } from './helpers/store-harnesses.js'

await onEveryStore(t, roamingStoreContract)
