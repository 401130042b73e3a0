/** Run the real mosquitto_pub / mosquitto_sub clients from tests. */
import { spawn, type ChildProcess } from 'node:child_process'

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface Running {
  proc: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves when the process exits. */
  done: Promise<RunResult>
  kill(): Promise<void>
}

export function start(bin: string, args: string[]): Running {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  const done = new Promise<RunResult>((resolve) => {
    proc.once('error', (e) => resolve({ code: -1, stdout: out, stderr: err + String(e) }))
    proc.once('close', (code) => resolve({ code, stdout: out, stderr: err }))
  })
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    done,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM')
        await done
      }
    },
  }
}

/** Run to completion (killed after `timeoutMs`). */
export async function run(bin: string, args: string[], timeoutMs = 10_000): Promise<RunResult> {
  const r = start(bin, args)
  const timer = setTimeout(() => r.proc.kill('SIGKILL'), timeoutMs)
  try {
    return await r.done
  } finally {
    clearTimeout(timer)
  }
}
