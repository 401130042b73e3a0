/**
 * Board: a johnny-five Board over any IO plugin (Firmata over serialport, the
 * mock board, or a third-party plugin). Relays go through johnny-five's Relay.
 */
import { HwError, toHwError } from './errors.js'
import { JohnnyFiveRelay, type RelayHost } from './five-relay.js'
import { resolvePin, supportsMode, type IoPlugin } from './io-plugin.js'
import { createFiveBoard, createFiveRelay, type FiveBoard } from './johnny-five.js'
import type { Board, DigitalLevel, OutputPin, PinId, Relay, RelayType, Unsubscribe } from './types.js'
import { withTimeout } from '../base/with-timeout.js'

export interface JohnnyFiveBoardOptions {
  io: IoPlugin
  name?: string
  /** How long ready() waits for the board (default 15 s: Firmata asks again for the version after 5 s). */
  readyTimeoutMs?: number
  /** How long a relay write may take to leave the host (default 2 s). */
  writeTimeoutMs?: number
  /** Resolves once earlier writes have left the host (serial drain); default: immediately. */
  flush?: () => Promise<void>
  /** Releases the transport on close(). */
  release?: () => Promise<void>
  /** Opening the transport; ready() rejects with its error. */
  opening?: Promise<void>
}

export class JohnnyFiveBoard implements Board {
  readonly name: string
  readonly io: IoPlugin
  readonly #five: FiveBoard
  readonly #opts: JohnnyFiveBoardOptions
  readonly #relays = new Set<JohnnyFiveRelay>()
  readonly #disconnectListeners = new Set<(err: Error) => void>()
  readonly #host: RelayHost
  #ready: Promise<void> | undefined
  #isReady = false
  #connected = false
  #closing = false
  #closed = false

  constructor(opts: JohnnyFiveBoardOptions) {
    this.#opts = opts
    this.io = opts.io
    this.name = opts.name ?? opts.io.name
    this.#five = createFiveBoard({ io: opts.io, repl: false, debug: false, sigint: false })
    // johnny-five re-emits io errors on the board after ready; an unheard 'error' would crash the process.
    this.#five.on('error', () => {})
    const lost = (what: string) => (err?: unknown) => this.#lost(what, err)
    opts.io.on('close', lost('closed'))
    opts.io.on('disconnect', lost('disconnected'))
    opts.io.on('error', (err: unknown) => {
      if (this.#isReady) this.#lost('failed', err)
    })
    const flush = opts.flush ?? (() => Promise.resolve())
    const writeTimeoutMs = opts.writeTimeoutMs ?? 2000
    const connected = (): boolean => this.#connected
    this.#host = {
      get connected() {
        return connected()
      },
      flush: () => withTimeout(flush(), writeTimeoutMs, () => hwTimeout(`flushing writes to ${this.name}`, writeTimeoutMs)).catch((err: unknown) => {
        throw toHwError(err, 'HW_RELAY_WRITE_FAILED', `writing to ${this.name} failed`)
      }),
    }
  }

  get isReady(): boolean {
    return this.#isReady && this.#connected
  }

  ready(): Promise<void> {
    this.#ready ??= this.#waitReady()
    return this.#ready
  }

  async #waitReady(): Promise<void> {
    const ms = this.#opts.readyTimeoutMs ?? 15_000
    const becameReady = new Promise<void>((resolve, reject) => {
      if (this.#five.isReady) return resolve()
      this.#five.once('ready', () => resolve())
      this.io.once('error', (err: unknown) => reject(toHwError(err, 'HW_BOARD_ERROR', `${this.name} failed while starting`)))
    })
    try {
      await withTimeout(Promise.all([this.#opts.opening, becameReady]), ms, () => hwTimeout(`waiting for ${this.name} to become ready`, ms))
    } catch (err) {
      await this.close()
      throw err
    }
    this.#isReady = true
    this.#connected = true
  }

  async relay(options: { pin: PinId; type: RelayType }): Promise<Relay> {
    await this.ready()
    this.#assertUsable()
    const pin = this.#pin(options.pin, this.io.MODES.OUTPUT, 'output')
    try {
      this.io.pinMode(pin, this.io.MODES.OUTPUT)
    } catch (err) {
      throw toHwError(err, 'HW_RELAY_WRITE_FAILED', `setting pin ${options.pin} to output failed`)
    }
    const five = createFiveRelay({ pin, type: options.type, board: this.#five })
    const relay = new JohnnyFiveRelay(this.#host, five, options.pin, options.type)
    this.#relays.add(relay)
    // A relay starts open (docs/design.md, Fail safe); a failure here is the caller's to report.
    await relay.open()
    return relay
  }

  async output(pinId: PinId): Promise<OutputPin> {
    await this.ready()
    this.#assertUsable()
    const pin = this.#pin(pinId, this.io.MODES.OUTPUT, 'output')
    try {
      this.io.pinMode(pin, this.io.MODES.OUTPUT)
    } catch (err) {
      throw toHwError(err, 'HW_RELAY_WRITE_FAILED', `setting pin ${String(pinId)} to output failed`)
    }
    let level: DigitalLevel = 0
    const write = async (next: DigitalLevel): Promise<void> => {
      this.#assertUsable()
      level = next
      try {
        this.io.digitalWrite(pin, next)
      } catch (err) {
        throw toHwError(err, 'HW_RELAY_WRITE_FAILED', `writing pin ${String(pinId)} failed`)
      }
      await this.#host.flush()
    }
    await write(0)
    return {
      pin: pinId,
      get level() {
        return level
      },
      write,
      toggle: () => write(level ? 0 : 1),
    }
  }

  watchInput(pinId: PinId, listener: (level: DigitalLevel) => void): Unsubscribe {
    this.#assertUsable()
    const pin = this.#pin(pinId, this.io.MODES.INPUT, 'input')
    this.io.pinMode(pin, this.io.MODES.INPUT)
    let last: DigitalLevel | undefined
    const handler = (value: number): void => {
      const level: DigitalLevel = value ? 1 : 0
      if (level === last) return
      last = level
      listener(level)
    }
    this.io.digitalRead(pin, handler)
    return () => {
      this.io.removeListener(`digital-read-${pin}`, handler)
    }
  }

  onDisconnect(listener: (err: Error) => void): Unsubscribe {
    this.#disconnectListeners.add(listener)
    return () => this.#disconnectListeners.delete(listener)
  }

  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    await Promise.all([...this.#relays].map((r) => r.dispose()))
    this.#connected = false
    this.#closed = true
    if (this.#five.timer) clearTimeout(this.#five.timer)
    await this.#opts.release?.().catch(() => {})
  }

  #assertUsable(): void {
    if (this.#closed || this.#closing) throw new HwError('HW_CLOSED', `${this.name} was closed`)
    if (!this.isReady) throw new HwError(this.#isReady ? 'HW_DISCONNECTED' : 'HW_BOARD_NOT_READY', `${this.name} is not ready`)
  }

  #pin(pinId: PinId, mode: number, what: string): number {
    const pin = resolvePin(this.io, pinId)
    if (pin === undefined || !supportsMode(this.io, pin, mode)) {
      throw new HwError('HW_BAD_PIN', `${this.name} has no ${what} pin ${String(pinId)}`, { details: { pin: pinId } })
    }
    return pin
  }

  #lost(what: string, err?: unknown): void {
    if (!this.#connected || this.#closing) return
    this.#connected = false
    for (const r of this.#relays) r.markUnknown()
    const error = new HwError('HW_DISCONNECTED', `${this.name} ${what}`, err === undefined || err === null ? {} : { cause: err })
    for (const l of this.#disconnectListeners) l(error)
  }
}

function hwTimeout(what: string, ms: number): HwError {
  return new HwError('HW_TIMEOUT', `${what}: no answer within ${ms} ms`)
}
