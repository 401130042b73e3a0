/**
 * Narrow, correct local types for the johnny-five pieces we use.
 * @types/johnny-five lacks `sigint`, `Relay#isClosed` and the emitter methods
 * of Board, and types `io` as any; these declarations say what 2.1 does.
 */
import five from 'johnny-five'
import type { EventEmitter } from 'node:events'
import type { IoPlugin } from './io-plugin.js'

export interface FiveBoardOptions {
  io: IoPlugin
  id?: string
  repl: false
  debug: false
  /** johnny-five installs a SIGINT handler that exits the process unless this is false. */
  sigint: false
  timeout?: number
}

export interface FiveBoard extends EventEmitter {
  readonly isReady: boolean
  readonly io: IoPlugin
  /** The connect-to-ready watchdog johnny-five starts; cleared on ready. */
  timer: ReturnType<typeof setTimeout> | null
}

export interface FiveRelayOptions {
  pin: number
  type: 'NO' | 'NC'
  board: FiveBoard
}

export interface FiveRelay {
  readonly isClosed: boolean
  readonly type: 'NO' | 'NC'
  readonly pin: number
  open(): unknown
  close(): unknown
}

export const createFiveBoard = (opts: FiveBoardOptions): FiveBoard =>
  new (five.Board as unknown as new (o: FiveBoardOptions) => FiveBoard)(opts)

export const createFiveRelay = (opts: FiveRelayOptions): FiveRelay =>
  new (five.Relay as unknown as new (o: FiveRelayOptions) => FiveRelay)(opts)
