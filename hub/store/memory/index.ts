/** In-memory Store for unit tests: same contract as SqliteStore, nothing on disk. */
import { StoreError } from '../errors.js'
import type { Store } from '../types.js'
import { MemoryReservationStore } from './reservations.js'

export class MemoryStore implements Store {
  readonly reservations: MemoryReservationStore
  #closed = false

  constructor() {
    const guard = (): void => {
      if (this.#closed) throw new StoreError('CLOSED', 'store is closed')
    }
    this.reservations = new MemoryReservationStore(guard)
  }

  /** Test hook: forget every table. */
  reset(): void {
    this.reservations.reset()
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new StoreError('CLOSED', 'store is closed')
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}
