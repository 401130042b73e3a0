/**
 * A real Mosquitto broker process on a free port, for tests that must run
 * against it. `mosquittoBinary()` returns null where the machine has none, and
 * the calling test says clearly that it skips.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitForPort } from './net.js'

const SEARCH = ['', '/usr/sbin/', '/usr/local/sbin/', '/sbin/']

function which(name: string): string | null {
  for (const dir of SEARCH) {
    const cmd = dir + name
    const r = spawnSync(cmd, ['--help'], { stdio: 'ignore' })
    if (!r.error) return cmd
  }
  return null
}

export interface MosquittoTools {
  broker: string | null
  pub: string | null
  sub: string | null
  /** mosquitto_rr, Mosquitto's request/response client. */
  rr: string | null
}

let cached: MosquittoTools | undefined
export function mosquittoTools(): MosquittoTools {
  cached ??= { broker: which('mosquitto'), pub: which('mosquitto_pub'), sub: which('mosquitto_sub'), rr: which('mosquitto_rr') }
  return cached
}

export function mosquittoBinary(): string | null {
  return mosquittoTools().broker
}

export interface MosquittoProcess {
  port: number
  url: string
  dir: string
  proc: ChildProcess
  log: () => string
  close(): Promise<void>
}

export interface MosquittoOptions {
  /** Extra lines for mosquitto.conf (after the listener line). */
  config?: string[]
  /** Files to write into the broker's temp dir before start: name -> content. */
  files?: Record<string, string>
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-mosq-'))
  for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), content, { mode: 0o600 })
  const port = await freePort()
  const conf = [`listener ${port} 127.0.0.1`, ...(opts.config ?? ['allow_anonymous true']), 'set_tcp_nodelay true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning']
    .map((l) => l.replaceAll('$DIR', dir))
    .join('\n')
  writeFileSync(join(dir, 'mosquitto.conf'), conf + '\n')
  return runMosquittoConf(join(dir, 'mosquitto.conf'), port, dir)
}

/**
 * Run `mosquitto -c confFile` as it is (say, a generated one) and resolve once
 * it accepts connections on 127.0.0.1:port. `close()` stops it and removes `dir`.
 */
export async function runMosquittoConf(confFile: string, port: number, dir: string): Promise<MosquittoProcess> {
  const bin = mosquittoBinary()
  if (!bin) throw new Error('mosquitto is not installed')
  const proc = spawn(bin, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}: ${out}`))))
  exited.catch(() => undefined)
  await Promise.race([waitForPort(port), exited])
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    proc,
    log: () => out,
    async close() {
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once('exit', r))
        proc.kill('SIGTERM')
        await gone
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
