/**
 * A simulated Eastron SDM meter on the far end of a serialport MockBinding
 * port: it answers Modbus RTU function 0x04 (read input registers) frames as
 * the real meter does, so tests drive the real modbus-serial code path.
 * The CRC here is written independently of modbus-serial's on purpose: the
 * device mock checks our library's framing rather than agreeing with itself.
 */
import { createRequire } from 'node:module'
import type { MockBindingInterface } from '@serialport/binding-mock' with { 'resolution-mode': 'require' }
import type { SerialBinding } from '../../hw/serial-port.js'
import type { RegisterMap } from '../../hw/meter-models.js'
import { PullableCable } from './hw-cable.js'

/** CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), sent low byte first. */
export function crc16(frame: Buffer): number {
  let crc = 0xffff
  for (const byte of frame) {
    crc ^= byte
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1
  }
  return crc
}

export function withCrc(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length + 2)
  body.copy(out)
  out.writeUInt16LE(crc16(body), body.length)
  return out
}

export type SdmMode = 'normal' | 'silent' | 'exception' | 'bad-crc'

export class SdmDevice {
  readonly registers = Buffer.alloc(0x200 * 2)
  mode: SdmMode = 'normal'
  exceptionCode = 0x04
  /** Requests seen, for asserting on the wire traffic. */
  readonly requests: Buffer[] = []

  constructor(readonly unitId: number, readonly map: RegisterMap) {}

  set(register: number, value: number): void {
    this.registers.writeFloatBE(value, register * 2)
  }

  setReading(r: { energyKwh?: number; powerW?: number; voltageV?: number; currentA?: number }): void {
    if (r.energyKwh !== undefined) this.set(this.map.energyKwh, r.energyKwh)
    if (r.powerW !== undefined) this.set(this.map.powerW, r.powerW)
    if (r.voltageV !== undefined && this.map.voltageV !== undefined) this.set(this.map.voltageV, r.voltageV)
    if (r.currentA !== undefined && this.map.currentA !== undefined) this.set(this.map.currentA, r.currentA)
  }

  /** The answer to one request frame, or undefined when a real meter would stay silent. */
  answer(frame: Buffer): Buffer | undefined {
    this.requests.push(frame)
    if (frame.length !== 8 || crc16(frame.subarray(0, 6)) !== frame.readUInt16LE(6)) return undefined
    if (frame[0] !== this.unitId || this.mode === 'silent') return undefined
    const fc = frame[1] ?? 0
    if (fc !== 0x04) return withCrc(Buffer.from([this.unitId, fc | 0x80, 0x01]))
    if (this.mode === 'exception') return withCrc(Buffer.from([this.unitId, 0x84, this.exceptionCode]))
    const start = frame.readUInt16BE(2)
    const count = frame.readUInt16BE(4)
    if ((start + count) * 2 > this.registers.length) return withCrc(Buffer.from([this.unitId, 0x84, 0x02]))
    const data = this.registers.subarray(start * 2, (start + count) * 2)
    const reply = withCrc(Buffer.concat([Buffer.from([this.unitId, 0x04, data.length]), data]))
    if (this.mode === 'bad-crc') reply.writeUInt16LE(reply.readUInt16LE(reply.length - 2) ^ 0xffff, reply.length - 2)
    return reply
  }
}

// binding-mock's package exports give ESM importers no types; its CommonJS entry has them.
export const { MockBinding } = createRequire(import.meta.url)('@serialport/binding-mock') as { MockBinding: MockBindingInterface }

let counter = 0

/**
 * A serialport binding whose port `path` has the simulated meter on its far
 * end. Replies arrive in two chunks, as a USB-RS485 adapter delivers them.
 * `unplug()` pulls the cable: pending and later reads fail (serialport then
 * reports a disconnect) and the path vanishes until `replug()`.
 */
export function sdmOnMockBinding(
  unitId: number,
  map: RegisterMap,
): { path: string; binding: SerialBinding; device: SdmDevice; unplug(): void; replug(): void } {
  const path = `/dev/ttySIM-SDM-${process.pid}-${++counter}`
  MockBinding.createPort(path, { echo: false, record: false })
  const device = new SdmDevice(unitId, map)
  let plugged = true
  const cable = new PullableCable()
  const binding: SerialBinding = {
    async list() {
      const ports = await MockBinding.list()
      return ports.filter((p) => plugged || p.path !== path)
    },
    async open(options) {
      if (!plugged && options.path === path) throw new Error(`No such file or directory, cannot open ${path}`)
      const port = await MockBinding.open(options)
      const write = port.write.bind(port)
      port.write = async (buffer: Buffer) => {
        await write(buffer)
        const reply = device.answer(Buffer.from(buffer))
        if (!reply) return
        setImmediate(() => {
          if (!port.isOpen || !plugged) return
          port.emitData(reply.subarray(0, 3))
          setImmediate(() => port.isOpen && plugged && port.emitData(reply.subarray(3)))
        })
      }
      const read = cable.wrapRead(port.read.bind(port))
      port.read = (buf: Buffer, offset: number, length: number) => (plugged ? read(buf, offset, length) : Promise.reject(new Error('device disconnected')))
      return port
    },
  }
  return {
    path,
    binding,
    device,
    unplug() {
      plugged = false
      cable.pull()
    },
    replug() {
      plugged = true
    },
  }
}

/** How the simulated meter's RS-485 port is set (its setup menu). */
export interface MeterLine {
  baudRate: number
  stopBits: 1 | 2
}

/**
 * Serve `device` on the device end of a pty (test/helpers/hw-pty.ts). Before
 * answering it compares the host end's line settings with its own, as a real
 * meter effectively does: at another baud rate the bytes it hears are garbage,
 * so it stays silent. (A pty keeps the host's baud rate and stop bits; Linux
 * forces 8 bits and no parity on ptys, so a parity mismatch cannot be shown here.)
 */
export function serveSdm(port: { on(e: 'data', l: (b: Buffer) => void): unknown; write(b: Buffer): unknown }, device: SdmDevice, line: MeterLine, hostLine: () => MeterLine): void {
  let rx = Buffer.alloc(0)
  port.on('data', (chunk: Buffer) => {
    rx = Buffer.concat([rx, chunk])
    while (rx.length >= 8) {
      const frame = rx.subarray(0, 8)
      if (crc16(frame.subarray(0, 6)) !== frame.readUInt16LE(6)) {
        rx = rx.subarray(1) // resynchronise on the next byte
        continue
      }
      rx = rx.subarray(8)
      const host = hostLine()
      if (host.baudRate !== line.baudRate || host.stopBits !== line.stopBits) {
        device.requests.push(Buffer.from(frame))
        continue
      }
      const reply = device.answer(Buffer.from(frame))
      if (reply) port.write(reply)
    }
  })
}
