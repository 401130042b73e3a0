/** Relay: johnny-five's Relay over any IO plugin, with the contract of types.ts. */
import { HwError, toHwError } from './errors.js'
import type { FiveRelay } from './johnny-five.js'
import type { PinId, Relay, RelayState, RelayType } from './types.js'

/** What a relay needs from its board. */
export interface RelayHost {
  readonly connected: boolean
  /** Resolves once earlier writes have left the host; rejects with an HwError (HW_TIMEOUT, ...). */
  flush(): Promise<void>
}

export class JohnnyFiveRelay implements Relay {
  readonly pin: PinId
  readonly type: RelayType
  #state: RelayState = 'unknown'
  #seq = 0
  #disposed = false
  readonly #five: FiveRelay
  readonly #host: RelayHost

  constructor(host: RelayHost, five: FiveRelay, pin: PinId, type: RelayType) {
    this.#host = host
    this.#five = five
    this.pin = pin
    this.type = type
  }

  get state(): RelayState {
    return this.#state
  }

  get isClosed(): boolean {
    return this.#state === 'closed'
  }

  open(): Promise<void> {
    return this.#write('open')
  }

  close(): Promise<void> {
    return this.#write('closed')
  }

  /** Called by the board when it loses its device: nobody knows what the contacts do now. */
  markUnknown(): void {
    this.#seq++
    this.#state = 'unknown'
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return
    try {
      if (this.#host.connected) await this.#write('open')
    } catch {
      // Best effort by contract; the board's own watchdog is the last line (docs/design.md, Stations).
    }
    this.#disposed = true
  }

  async #write(target: 'open' | 'closed'): Promise<void> {
    if (this.#disposed) throw new HwError('HW_CLOSED', `relay on pin ${this.pin} was disposed`)
    const seq = ++this.#seq
    this.#state = 'unknown'
    if (!this.#host.connected) throw new HwError('HW_DISCONNECTED', `board is disconnected; relay on pin ${this.pin} is in an unknown state`)
    try {
      if (target === 'open') this.#five.open()
      else this.#five.close()
    } catch (err) {
      throw toHwError(err, 'HW_RELAY_WRITE_FAILED', `writing relay pin ${this.pin} failed`)
    }
    await this.#host.flush()
    if (!this.#host.connected) throw new HwError('HW_DISCONNECTED', `board disconnected while switching relay on pin ${this.pin}`)
    if (seq === this.#seq) this.#state = target
  }
}
