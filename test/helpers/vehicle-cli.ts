/** Run the real `voltway vehicle ...` CLI in a child process, with a limit on how many run at once. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { registerVehicleCommands } from '../../vehicle-sim/commands/register.js'

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** The environment without any VOLTWAY_* variable of the developer's shell. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VOLTWAY_')) env[k] = v
  return { ...env, ...extra }
}

let running = 0
const queue: (() => void)[] = []
const MAX_PARALLEL = 6

async function slot(): Promise<() => void> {
  if (running >= MAX_PARALLEL) await new Promise<void>((r) => queue.push(r))
  running++
  return () => {
    running--
    queue.shift()?.()
  }
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
  /** Called with the child once it runs (to send signals, read streams). */
  onSpawn?: (child: ChildProcess) => void
}

export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const release = await slot()
  const started = Date.now()
  try {
    return await new Promise<CliResult>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', 'vehicle', ...args], { cwd: ROOT, env: opts.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`voltway vehicle ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
      }, opts.timeoutMs ?? 30_000)
      child.on('error', reject)
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
      })
      opts.onSpawn?.(child)
    })
  } finally {
    release()
  }
}

/** Parse stdout as the one JSON document a `--json` run prints. */
export function jsonOf(r: CliResult): unknown {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr: ${r.stderr}`)
  }
}

class ExitCalled extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`)
  }
}

/**
 * The same commands run inside the test process (no start-up cost): a fresh
 * commander program with captured stdout/stderr, exit code and environment.
 */
export async function runInProcess(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<CliResult> {
  const started = Date.now()
  let stdout = ''
  let stderr = ''
  let code = 0
  const program = new Command().exitOverride()
  registerVehicleCommands(program, {
    cli: { io: { out: (s) => void (stdout += s), err: (s) => void (stderr += s), isTTY: false, errIsTTY: false }, setExitCode: (c) => void (code = c), env },
    exit: (c) => {
      throw new ExitCalled(c)
    },
  })
  try {
    await program.parseAsync(['vehicle', ...args], { from: 'user' })
  } catch (err) {
    if (!(err instanceof ExitCalled)) throw err
    code = err.code
  }
  return { code, signal: null, stdout, stderr, ms: Date.now() - started }
}
