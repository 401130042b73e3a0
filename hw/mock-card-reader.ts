/** A card reader with no hardware, for tests and demos: `tap(uid)` plays one frame of a card in the field. */
import { systemClock, type Clock } from '../base/clock.js'
import { CardTaps } from './card-taps.js'
import { HwError } from './errors.js'
import type { CardReader, Unsubscribe } from './types.js'

export interface MockCardReaderOptions {
  clock?: Clock
  debounceMs?: number
}

const UID = /^[0-9A-F]{2,32}$/

export class MockCardReader implements CardReader {
  readonly kind = 'mock' as const
  readonly #taps: CardTaps
  #dropped = 0

  constructor(opts: MockCardReaderOptions = {}) {
    this.#taps = new CardTaps({ clock: opts.clock ?? systemClock, ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}) })
  }

  get received(): number {
    return this.#taps.received
  }

  get dropped(): number {
    return this.#dropped
  }

  /** Test hook: one frame of card `uid` (any case; reported uppercase). Call it again at the same clock time to hold the card. */
  tap(uid: string): void {
    const upper = uid.toUpperCase()
    if (!UID.test(upper)) throw new HwError('HW_BAD_CONFIG', `mock card reader: "${uid}" is not a hexadecimal card UID`)
    this.#taps.seen(upper)
  }

  /** Test hook: a garbled frame (dropped, as a real reader drops one with a bad checksum). */
  garble(): void {
    this.#dropped++
  }

  onCard(listener: (uid: string) => void): Unsubscribe {
    return this.#taps.onCard(listener)
  }

  async close(): Promise<void> {
    this.#taps.close()
  }
}
