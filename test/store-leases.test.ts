import t from 'tap'
import { leaseStoreContract } from './helpers/store-lease-contract.js'
import { onEveryStore } from './helpers/store-harnesses.js'

await onEveryStore(t, leaseStoreContract)
