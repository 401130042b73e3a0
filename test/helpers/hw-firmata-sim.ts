/**
 * A simulated StandardFirmata board (Uno-like: 14 digital + 6 analog pins) on
 * the far end of a serialport MockBinding port, so tests drive the real
 * firmata-io + serialport 13 path. It answers the handshake (version,
 * firmware, capabilities, analog mapping) and tracks the pin levels the host
 * writes with DIGITAL_MESSAGE.
 */
import type { SerialBinding } from '../../hw/serial-port.js'
import { MockBinding } from './hw-sdm-sim.js'
import { PullableCable } from './hw-cable.js'

const PINS = 20
const ANALOG_FROM = 14

function handshake(): Buffer {
  const name = Buffer.from('StandardFirmata.ino')
  const nameBytes = [...name].flatMap((c) => [c & 0x7f, (c >> 7) & 0x7f])
  return Buffer.from([0xf9, 2, 5, 0xf0, 0x79, 2, 5, ...nameBytes, 0xf7])
}

function capabilities(): Buffer {
  const bytes = [0xf0, 0x6c]
  for (let pin = 0; pin < PINS; pin++) {
    bytes.push(0x00, 1, 0x01, 1) // INPUT, OUTPUT
    if (pin >= ANALOG_FROM) bytes.push(0x02, 10) // ANALOG
    bytes.push(0x7f)
  }
  bytes.push(0xf7)
  return Buffer.from(bytes)
}

function analogMapping(): Buffer {
  const bytes = [0xf0, 0x6a]
  for (let pin = 0; pin < PINS; pin++) bytes.push(pin >= ANALOG_FROM ? pin - ANALOG_FROM : 0x7f)
  bytes.push(0xf7)
  return Buffer.from(bytes)
}

export interface FirmataSim {
  path: string
  binding: SerialBinding
  /** The level the board drives on `pin` (undefined before any write). */
  level(pin: number): number | undefined
  /** While stalled, the port's drain never completes: writes never leave the host. */
  stallWrites(stalled: boolean): void
  /** Pull the USB cable: pending reads fail and serialport reports a disconnect. */
  unplug(): void
}

let counter = 0

export function firmataOnMockBinding(): FirmataSim {
  const path = `/dev/ttySIM-FIRMATA-${process.pid}-${++counter}`
  MockBinding.createPort(path, { echo: false, record: false, readyData: handshake() })
  const levels = new Map<number, number>()
  const cable = new PullableCable()
  let stalled: Array<() => void> | undefined
  let rx: number[] = []

  const take = (reply: (b: Buffer) => void): void => {
    for (;;) {
      const first = rx[0]
      if (first === undefined) return
      if (first === 0xf0) {
        const end = rx.indexOf(0xf7)
        if (end < 0) return
        const cmd = rx[1]
        if (cmd === 0x6b) reply(capabilities())
        if (cmd === 0x69) reply(analogMapping())
        rx = rx.slice(end + 1)
      } else if ((first & 0xf0) === 0x90) {
        if (rx.length < 3) return
        const port = first & 0x0f
        const mask = (rx[1] ?? 0) | ((rx[2] ?? 0) << 7)
        for (let bit = 0; bit < 8; bit++) levels.set(port * 8 + bit, (mask >> bit) & 1)
        rx = rx.slice(3)
      } else if (first === 0xf4 || first === 0xf5 || (first & 0xf0) === 0xe0) {
        if (rx.length < 3) return
        if (first === 0xf5) levels.set(rx[1] ?? 0, rx[2] ?? 0)
        rx = rx.slice(3)
      } else if ((first & 0xf0) === 0xd0 || (first & 0xf0) === 0xc0) {
        if (rx.length < 2) return
        rx = rx.slice(2)
      } else {
        rx = rx.slice(1)
      }
    }
  }

  const binding: SerialBinding = {
    list: () => MockBinding.list(),
    async open(options) {
      const port = await MockBinding.open(options)
      const write = port.write.bind(port)
      port.write = async (buffer: Buffer) => {
        await write(buffer)
        rx.push(...buffer)
        take((b) => setImmediate(() => port.isOpen && port.emitData(b)))
      }
      const drain = port.drain.bind(port)
      port.drain = async () => {
        await drain()
        if (stalled) await new Promise<void>((resolve) => stalled?.push(resolve))
      }
      port.read = cable.wrapRead(port.read.bind(port))
      return port
    },
  }

  return {
    path,
    binding,
    level: (pin) => levels.get(pin),
    stallWrites(on) {
      if (on) {
        stalled ??= []
        return
      }
      const waiting = stalled ?? []
      stalled = undefined
      for (const resolve of waiting) resolve()
    },
    unplug() {
      cable.pull()
    },
  }
}
