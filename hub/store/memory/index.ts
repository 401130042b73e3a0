/** In-memory Store for unit tests: same contract as SqliteStore, nothing on disk. */
import { StoreError } from '../errors.js'
import type { Store } from '../types.js'
import { MemoryChargingStore } from './charging.js'
import { MemoryIdempotencyStore } from './idempotency.js'
import { MemoryLeaseStore } from './leases.js'
import { MemoryReservationStore } from './reservations.js'
import { MemoryTripStore } from './trips.js'
import { MemoryAccountsStore } from './accounts.js'

export class MemoryStore implements Store {
  readonly reservations: MemoryReservationStore
  readonly charging: MemoryChargingStore
  readonly idempotency: MemoryIdempotencyStore
  readonly trips: MemoryTripStore
  readonly leases: MemoryLeaseStore
  readonly accounts: MemoryAccountsStore
  #closed = false

  constructor() {
    const guard = (): void => {
      if (this.#closed) throw new StoreError('CLOSED', 'store is closed')
    }
    this.reservations = new MemoryReservationStore(guard)
    this.charging = new MemoryChargingStore(guard)
    this.idempotency = new MemoryIdempotencyStore(guard)
    this.trips = new MemoryTripStore(guard)
    this.leases = new MemoryLeaseStore(guard)
    this.accounts = new MemoryAccountsStore(guard)
  }

  /** Test hook: forget every table. */
  reset(): void {
    this.reservations.reset()
    this.charging.reset()
    this.idempotency.reset()
    this.trips.reset()
    this.leases.reset()
    this.accounts.reset()
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new StoreError('CLOSED', 'store is closed')
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}
