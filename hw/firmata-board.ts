/**
 * The default real board: StandardFirmata over a serial port, driven through
 * johnny-five. We open the port ourselves with serialport 13 and hand it to
 * firmata-io as its transport, because johnny-five's port detection and
 * firmata's default transport expect the serialport 8 API.
 */
import firmataIo from 'firmata-io'
import { JohnnyFiveBoard } from './five-board.js'
import type { IoPlugin } from './io-plugin.js'
import { closePort, createPort, drainPort, openPort, type SerialBinding } from './serial-port.js'

export interface FirmataBoardOptions {
  path: string
  baudRate: number
  /** serialport binding (MockBinding in tests); default: the platform's. */
  binding?: SerialBinding
  readyTimeoutMs?: number
  writeTimeoutMs?: number
}

/** Returns at once; `await board.ready()` opens the port and waits for Firmata's handshake. */
export function createFirmataBoard(opts: FirmataBoardOptions): JohnnyFiveBoard {
  const port = createPort(opts)
  const io = new firmataIo.Firmata(port) as IoPlugin
  // Listeners are attached above, before the port opens, so "open" is not missed.
  const opening = openPort(port, opts.binding)
  opening.catch(() => {})
  return new JohnnyFiveBoard({
    io,
    name: `Firmata on ${opts.path}`,
    opening,
    flush: () => drainPort(port),
    release: () => {
      // Firmata re-asks for the version after 5 s; don't let that timer outlive the board.
      clearTimeout((io as { reportVersionTimeoutId?: ReturnType<typeof setTimeout> }).reportVersionTimeoutId)
      return closePort(port)
    },
    ...(opts.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: opts.readyTimeoutMs }),
    ...(opts.writeTimeoutMs === undefined ? {} : { writeTimeoutMs: opts.writeTimeoutMs }),
  })
}
