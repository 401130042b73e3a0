import t from 'tap'
import { MemoryStore } from '../hub/store/index.js'
import { storeContract } from './helpers/store-contract.js'
import { accountsStoreContract } from './helpers/store-accounts-contract.js'

storeContract(t, 'MemoryStore', async () => {
  const store = new MemoryStore()
  return { store, dispose: () => store.close() }
})

t.test('MemoryStore.reset forgets every booking', async (t) => {
  const store = new MemoryStore()
  await store.reservations.createReservation({
    reservationId: 'r1', vehicleId: 'V1', atMs: 1e12, windowMs: 1, nowMs: 0, candidates: [{ stationId: 'S', position: { lat: 0, lon: 0 } }],
  })
  store.reset()
  t.same(await store.reservations.counts(0), { reservations: 0, activeHolds: 0 })
})

accountsStoreContract(t, 'MemoryStore', async () => {
  const store = new MemoryStore()
  return { store, dispose: () => store.close() }
})
