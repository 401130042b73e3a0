/** A real `voltway hub` process for tests: spawned from the CLI, ready once it prints its ready line. */
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { HubConfig } from '../../hub/config.js'
import { freePort } from './net.js'

const ROOT = join(import.meta.dirname, '..', '..')

export interface HubProcess {
  proc: ChildProcess
  hubId: string
  mqttUrl: string
  httpUrl: string
  output: () => string
  /** Resolves with the exit code. */
  exited: Promise<number | null>
  kill(signal?: NodeJS.Signals): Promise<number | null>
}

/** Give a config real free ports (a hub process cannot report port 0 back to a config file's peers). */
export async function withFreePorts(cfg: HubConfig): Promise<HubConfig> {
  const mqtt = 'listen' in cfg.mqtt ? { ...cfg.mqtt, listen: { ...cfg.mqtt.listen, port: await freePort() } } : cfg.mqtt
  return { ...cfg, mqtt, http: { ...cfg.http, port: await freePort() } }
}

/**
 * Spawn `voltway hub --config <file> ...args`. `cfg` is written to a new file in
 * `dir` unless `configFile` names one already written (replicas share one hub.json).
 * VOLTWAY_HUB_NODE_ARGS (space-separated) goes to node before the script, e.g.
 * `--cpu-prof --cpu-prof-dir=DIR` to profile the hubs of a bench (Node refuses
 * --cpu-prof in NODE_OPTIONS).
 */
const nodeArgs = (): string[] => (process.env.VOLTWAY_HUB_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')

export async function spawnHub(cfg: HubConfig, dir: string, timeoutMs = 20_000, opts: { args?: string[]; configFile?: string } = {}): Promise<HubProcess> {
  const file = opts.configFile ?? join(dir, `${cfg.hubId}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`)
  if (opts.configFile === undefined) writeFileSync(file, JSON.stringify(cfg))
  const proc = spawn(process.execPath, [...nodeArgs(), '--import', 'tsx', join(ROOT, 'cli.ts'), 'hub', '--config', file, ...(opts.args ?? [])], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VOLTWAY_LOG_LEVEL: process.env.VOLTWAY_TEST_LOG ?? 'warn' },
  })
  let out = ''
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  // 'close', not 'exit': the output is complete only then.
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)))
  const ready = await new Promise<{ mqtt: string; http: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left behind: a hub that never got ready would outlive the test.
      proc.kill('SIGKILL')
      reject(new Error(`hub ${cfg.hubId} not ready after ${timeoutMs} ms:\n${out}`))
    }, timeoutMs)
    let buf = ''
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      buf += d.toString()
      for (const line of buf.split('\n')) {
        if (!line.includes('"msg":"ready"')) continue
        try {
          const j = JSON.parse(line) as { mqtt: string; http: string }
          clearTimeout(timer)
          resolve(j)
        } catch {
          // a partial line; wait for the rest
        }
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`hub ${cfg.hubId} exited with ${code} before it was ready:\n${out}`))
    })
  })
  return {
    proc,
    hubId: cfg.hubId,
    mqttUrl: ready.mqtt,
    httpUrl: ready.http,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      return exited
    },
  }
}
