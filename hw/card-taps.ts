/**
 * What every card reader shares: its listeners and the debounce that turns a
 * card held on the reader (frames repeated while it stays in the field) into
 * one tap (hw/types.ts, CardReader).
 */
import type { Clock } from '../base/clock.js'
import type { Unsubscribe } from './types.js'

/** A card is reported again only after no frame of it came for this long, ms. */
export const DEFAULT_CARD_DEBOUNCE_MS = 1000

export interface CardTapsOptions {
  clock: Clock
  debounceMs?: number
}

export class CardTaps {
  readonly #clock: Clock
  readonly #debounceMs: number
  readonly #listeners = new Set<(uid: string) => void>()
  #last: { uid: string; at: number } | undefined
  #closed = false
  #received = 0

  constructor(opts: CardTapsOptions) {
    this.#clock = opts.clock
    this.#debounceMs = opts.debounceMs ?? DEFAULT_CARD_DEBOUNCE_MS
  }

  /** One good frame with card `uid` (uppercase hex) arrived. */
  seen(uid: string): void {
    if (this.#closed) return
    this.#received++
    const now = this.#clock.now()
    const held = this.#last !== undefined && this.#last.uid === uid && now - this.#last.at < this.#debounceMs
    this.#last = { uid, at: now }
    if (held) return
    setImmediate(() => {
      if (this.#closed) return
      for (const l of this.#listeners) l(uid)
    })
  }

  /** Good frames seen so far. */
  get received(): number {
    return this.#received
  }

  onCard(listener: (uid: string) => void): Unsubscribe {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  close(): void {
    this.#closed = true
    this.#listeners.clear()
  }
}
