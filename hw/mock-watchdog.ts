/**
 * The mock board's "firmware watchdog" and its persisted state. Real boards
 * should run firmware that opens the relay when the agent's heartbeat stops
 * (docs/design.md, Stations: losing the agent must cut the session). The mock
 * board simulates that honestly across processes: it writes the relay's
 * contact state, the simulated meter register and a heartbeat timestamp to a
 * small file; the agent refreshes the heartbeat while it runs. Whoever reads
 * the file later (a test, or the next agent on the same board) applies the
 * firmware rule: contacts that were closed count as open from
 * `heartbeatTs + watchdogMs` on, and the energy that flowed until then is on
 * the register.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MockIo } from './mock-io.js'
import type { MockMeter } from './mock-meter.js'
import type { RelayType } from './types.js'
import { systemClock, type Clock } from '../base/clock.js'
import { makeDirectory } from '../base/make-directory.js'

export const MOCK_BOARD_FILE = 'mock-board.json'

/** What the mock board persists (one small JSON file in the agent's dataDir). */
export interface MockBoardFile {
  version: 1
  relayPin: number
  relayType: RelayType
  /** Contacts closed at the last write or heartbeat. */
  contactsClosed: boolean
  /** The last heartbeat from the agent, ms since epoch. */
  heartbeatTs: number
  watchdogMs: number
  /** The simulated import register (fractional Wh) at `energyTs`. */
  energyWh: number
  energyTs: number
  /** Power flowing at `energyTs`, W. */
  powerW: number
}

/** The mock board as the watchdog sees it at `now`. */
export interface MockBoardState {
  relay: 'open' | 'closed'
  /** The contacts were closed when the heartbeat stopped, and the watchdog opened them. */
  watchdogTripped: boolean
  heartbeatAgeMs: number
  /** The register at `now` (integer Wh), counting energy that flowed until the watchdog tripped. */
  energyWh: number
  file: MockBoardFile
}

/** Read the persisted mock board and apply the firmware watchdog rule at `now`. Undefined when there is no file. */
export function readMockBoardState(dataDir: string, now: number = Date.now()): MockBoardState | undefined {
  let file: MockBoardFile
  try {
    file = JSON.parse(readFileSync(join(dataDir, MOCK_BOARD_FILE), 'utf8')) as MockBoardFile
  } catch {
    return undefined
  }
  if (file.version !== 1 || typeof file.heartbeatTs !== 'number' || typeof file.energyWh !== 'number') return undefined
  const tripAt = file.heartbeatTs + file.watchdogMs
  const watchdogTripped = file.contactsClosed && now >= tripAt
  const flowedUntil = file.contactsClosed ? Math.min(now, tripAt) : file.energyTs
  const extraWh = file.powerW > 0 && flowedUntil > file.energyTs ? (file.powerW * (flowedUntil - file.energyTs)) / 3_600_000 : 0
  return {
    relay: file.contactsClosed && !watchdogTripped ? 'closed' : 'open',
    watchdogTripped,
    heartbeatAgeMs: now - file.heartbeatTs,
    energyWh: Math.floor(file.energyWh + extraWh),
    file,
  }
}

export interface MockWatchdogOptions {
  dataDir: string
  io: MockIo
  meter: MockMeter
  relayPin: number
  relayType: RelayType
  /** How long the firmware waits for a heartbeat before it opens the relay. */
  watchdogMs: number
  /**
   * The pin wired to an external watchdog's trigger: when set, only its edges
   * count as heartbeats (relay writes still record the contacts, but do not
   * feed the watchdog), as with the real chip.
   */
  heartbeatPin?: number
  clock?: Clock
}

/** Keeps the mock board file current: on every relay write and on every heartbeat. */
export class MockWatchdog {
  readonly #opts: MockWatchdogOptions
  readonly #clock: Clock
  readonly #file: string
  readonly #unwatch: () => void
  #closed = false

  constructor(opts: MockWatchdogOptions) {
    this.#opts = opts
    this.#clock = opts.clock ?? systemClock
    makeDirectory(opts.dataDir)
    this.#file = join(opts.dataDir, MOCK_BOARD_FILE)
    this.#unwatch = opts.io.onWrite((pin) => {
      if (pin === opts.heartbeatPin) this.heartbeat()
      else if (pin === opts.relayPin) this.#record(opts.heartbeatPin === undefined)
    })
  }

  /** The agent is alive: record it with the current contacts and register. */
  heartbeat(): void {
    this.#record(true)
  }

  #lastBeat = 0

  /** Write the board file; `beat`: the agent is alive now (else the last heartbeat time stays). */
  #record(beat: boolean): void {
    if (this.#closed) return
    const { io, meter, relayPin, relayType, watchdogMs } = this.#opts
    if (beat || this.#lastBeat === 0) this.#lastBeat = this.#clock.now()
    const level = io.pinValue(relayPin)
    const reading = meter.peek()
    const state: MockBoardFile = {
      version: 1,
      relayPin,
      relayType,
      contactsClosed: relayType === 'NC' ? level === 0 : level === 1,
      heartbeatTs: this.#lastBeat,
      watchdogMs,
      energyWh: reading.energyWh,
      energyTs: reading.ts,
      powerW: reading.powerW,
    }
    const tmp = `${this.#file}.tmp`
    writeFileSync(tmp, JSON.stringify(state))
    renameSync(tmp, this.#file)
  }

  /** Stop recording (after the final relay write). */
  close(): void {
    if (this.#closed) return
    this.heartbeat()
    this.#closed = true
    this.#unwatch()
  }
}
