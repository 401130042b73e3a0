/**
 * Pseudo-terminal pairs made by socat, so tests drive the real serialport
 * native binding (@serialport/bindings-cpp) against a device simulated on
 * the far end. `.ci/run` installs socat; tests skip, saying so, without it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SerialPort } from 'serialport'

export function hasSocat(): boolean {
  try {
    execFileSync('socat', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export interface PtyPair {
  /** The end the code under test opens, like /dev/ttyUSB0. */
  host: string
  /** The end the simulated device sits on. */
  device: string
  close(): Promise<void>
}

/** Two linked ptys (raw, no echo); resolves once socat is relaying. */
export async function ptyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-pty-'))
  const host = join(dir, 'host')
  const device = join(dir, 'device')
  const child: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${device}`], { stdio: ['ignore', 'ignore', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    let err = ''
    const timer = setTimeout(() => reject(new Error(`socat did not start: ${err}`)), 5000)
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString()
      if (err.includes('starting data transfer loop')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`socat exited (${code}): ${err}`))
    })
  })
  return {
    host,
    device,
    async close() {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** The host end's line settings as the kernel holds them (what the code under test set with termios). */
export interface LineSettings {
  baudRate: number
  parity: 'none' | 'even' | 'odd'
  dataBits: number
  stopBits: 1 | 2
}

export function hostLineSettings(path: string): LineSettings {
  const out = execFileSync('stty', ['-F', path, '-a'], { encoding: 'utf8' })
  const flag = (name: string): boolean => new RegExp(`(^|\\s)${name}(\\s|$)`).test(out)
  return {
    baudRate: Number(/speed (\d+) baud/.exec(out)?.[1] ?? 0),
    parity: flag('parenb') ? (flag('parodd') ? 'odd' : 'even') : 'none',
    dataBits: Number(/(?:^|\s)cs(\d)(?:\s|$)/.exec(out)?.[1] ?? 0),
    stopBits: flag('cstopb') ? 2 : 1,
  }
}

/** Open the device end with the real binding (its own settings do not matter on a pty). */
export async function openDeviceEnd(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false })
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
  return port
}

export function closeDeviceEnd(port: SerialPort): Promise<void> {
  return port.isOpen ? new Promise<void>((r) => port.close(() => r())) : Promise.resolve()
}
