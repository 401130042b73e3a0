/**
 * Opening serial ports with serialport 13, with errors a technician can act
 * on. A `binding` may be injected (serialport's MockBinding in tests); the
 * default is the platform binding.
 */
import { existsSync } from 'node:fs'
import { SerialPortStream, type OpenOptions } from '@serialport/stream'
import { SerialPort } from 'serialport'
import { HwError } from './errors.js'

/** A serialport binding (the platform's, or MockBinding in tests). */
export type SerialBinding = OpenOptions['binding']

export interface SerialPortInfo {
  path: string
  manufacturer?: string
  serialNumber?: string
  vendorId?: string
  productId?: string
}

export interface SerialOptions {
  path: string
  baudRate: number
  binding?: SerialBinding
}

/** A port that is not yet open (open it with openPort, so errors are classified). */
export function createPort(opts: SerialOptions): SerialPortStream {
  const base = { path: opts.path, baudRate: opts.baudRate, autoOpen: false }
  return opts.binding ? new SerialPortStream({ ...base, binding: opts.binding }) : new SerialPort(base)
}

export async function openPort(port: SerialPortStream, binding?: SerialBinding): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
  } catch (err) {
    throw await classifyOpenError(err, port.path, binding)
  }
}

/** HW_SERIAL_NOT_FOUND when nothing is at `path`, else HW_SERIAL_OPEN_FAILED (busy, permissions). */
export async function classifyOpenError(err: unknown, path: string, binding?: SerialBinding): Promise<HwError> {
  if (err instanceof HwError) return err
  const text = err instanceof Error ? err.message : String(err)
  const listed = await listSerialPorts(binding).catch(() => [])
  const present = listed.some((p) => p.path === path) || (!binding && existsSync(path))
  return present
    ? new HwError('HW_SERIAL_OPEN_FAILED', `cannot open serial port ${path}: ${text}`, { cause: err, details: { path } })
    : new HwError('HW_SERIAL_NOT_FOUND', `no serial port at ${path}`, { cause: err, details: { path, seen: listed.map((p) => p.path) } })
}

/** The serial ports this machine sees (for `voltway station check`). */
export async function listSerialPorts(binding?: SerialBinding): Promise<SerialPortInfo[]> {
  const ports = await (binding ? binding.list() : SerialPort.list())
  return ports.map((p) => ({
    path: p.path,
    ...(p.manufacturer ? { manufacturer: p.manufacturer } : {}),
    ...(p.serialNumber ? { serialNumber: p.serialNumber } : {}),
    ...(p.vendorId ? { vendorId: p.vendorId } : {}),
    ...(p.productId ? { productId: p.productId } : {}),
  }))
}

export function closePort(port: SerialPortStream): Promise<void> {
  if (!port.isOpen) return Promise.resolve()
  return new Promise<void>((resolve) => port.close(() => resolve()))
}

export function drainPort(port: SerialPortStream): Promise<void> {
  if (!port.isOpen) return Promise.reject(new HwError('HW_DISCONNECTED', `serial port ${port.path} is closed`))
  return new Promise<void>((resolve, reject) =>
    port.drain((err) => (err ? reject(new HwError('HW_RELAY_WRITE_FAILED', `writing to ${port.path} failed: ${err.message}`, { cause: err })) : resolve())),
  )
}
