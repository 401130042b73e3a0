/**
 * The RDM6300 125 kHz card reader on a serial port (9600 8N1 by default):
 * frames from hw/rdm6300-frames.ts, debounced into taps (hw/types.ts, CardReader).
 */
import type { SerialPortStream } from '@serialport/stream'
import { systemClock, type Clock } from '../base/clock.js'
import { CardTaps } from './card-taps.js'
import { Rdm6300Parser } from './rdm6300-frames.js'
import { closePort, createPort, openPort, type SerialBinding } from './serial-port.js'
import type { CardReader, Unsubscribe } from './types.js'

export interface Rdm6300Options {
  path: string
  /** The RDM6300 sends at 9600 baud. */
  baudRate?: number
  clock?: Clock
  debounceMs?: number
  binding?: SerialBinding
}

export class Rdm6300Reader implements CardReader {
  readonly kind = 'rdm6300' as const
  readonly path: string
  readonly #port: SerialPortStream
  readonly #taps: CardTaps
  readonly #parser = new Rdm6300Parser()
  #dropped = 0

  private constructor(port: SerialPortStream, taps: CardTaps) {
    this.#port = port
    this.path = port.path
    this.#taps = taps
    port.on('data', (chunk: Buffer) => {
      const { uids, dropped } = this.#parser.push(chunk)
      this.#dropped += dropped
      for (const uid of uids) this.#taps.seen(uid)
    })
    // A lost reader only means no more taps: nothing to make safe, and the port's close says enough.
    port.on('error', () => {})
  }

  /** Open the port; rejects with HW_SERIAL_NOT_FOUND or HW_SERIAL_OPEN_FAILED. */
  static async open(opts: Rdm6300Options): Promise<Rdm6300Reader> {
    const port = createPort({ path: opts.path, baudRate: opts.baudRate ?? 9600, ...(opts.binding ? { binding: opts.binding } : {}) })
    await openPort(port, opts.binding)
    const taps = new CardTaps({ clock: opts.clock ?? systemClock, ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}) })
    return new Rdm6300Reader(port, taps)
  }

  get received(): number {
    return this.#taps.received
  }

  get dropped(): number {
    return this.#dropped
  }

  onCard(listener: (uid: string) => void): Unsubscribe {
    return this.#taps.onCard(listener)
  }

  async close(): Promise<void> {
    this.#taps.close()
    await closePort(this.#port)
  }
}
