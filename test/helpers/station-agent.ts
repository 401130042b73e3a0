/**
 * Station agent test helpers: configs in temp dirs, a controllable clock,
 * an aedes broker that can go away and come back on the same port, the agent
 * in-process, and the agent as a real child process (`node --import tsx cli.ts station`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Aedes, type Client } from 'aedes'
import type { Test } from 'tap'
import { ManualClock as BaseManualClock } from '../../base/clock.js'
import { StationAgent, type StationAgentOptions } from '../../station/agent.js'
import { StationConfigSchema, type StationConfig } from '../../station/config.js'
import { waitUntil } from './net.js'
import { HubDouble, type HubDoubleOptions } from './station-hub.js'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** A clock that moves only when told (base/clock.ts's ManualClock), starting 2026-11-24T18:00Z. */
export class ManualClock extends BaseManualClock {
  constructor(start = Date.parse('2026-11-24T18:00:00Z')) {
    super(start)
  }
}

export function tempDir(prefix = 'voltway-station-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export interface StationConfigInput {
  stationId?: string
  url: string
  dataDir: string
  powerKw?: number
  telemetryIntervalMs?: number
  maxChargeMinutes?: number
  watchdogMs?: number
}

export function stationConfig(i: StationConfigInput): StationConfig {
  return StationConfigSchema.parse({
    stationId: i.stationId ?? 'S1',
    hubId: 'H',
    mqtt: { url: i.url, password: 'pw' },
    dataDir: i.dataDir,
    hardware: {
      board: { type: 'mock', watchdogMs: i.watchdogMs ?? 3000 },
      relay: { pin: 7, type: 'NO' },
      meter: { type: 'mock', powerKw: i.powerKw ?? 22 },
    },
    telemetryIntervalMs: i.telemetryIntervalMs ?? 100,
    offline: { maxChargeMinutes: i.maxChargeMinutes ?? 30 },
  })
}

export function writeStationConfig(dir: string, cfg: StationConfig, name = 'station.json'): string {
  const file = join(dir, name)
  writeFileSync(file, JSON.stringify(cfg, null, 2))
  return file
}

/** An in-process agent, started; fast reconnects; explicit ticks unless pollIntervalMs is given. */
export async function startAgent(config: StationConfig, opts: Omit<StationAgentOptions, 'config'> = {}): Promise<StationAgent> {
  const agent = await StationAgent.create({ config, reconnectPeriodMs: 100, pollIntervalMs: 0, heartbeatIntervalMs: 0, ...opts })
  await agent.start()
  return agent
}

/**
 * An aedes broker with an in-process agent (station S1, hub H) and a hub
 * double on it, the agent seen online; all closed when the test ends.
 */
export async function agentWithHubDouble(
  t: Test,
  cfg: Omit<StationConfigInput, 'url' | 'dataDir'> = {},
  opts: Omit<StationAgentOptions, 'config'> = {},
  hubOpts: HubDoubleOptions = {},
): Promise<{ broker: RestartableBroker; agent: StationAgent; hub: HubDouble }> {
  const broker = new RestartableBroker()
  await broker.start()
  const agent = await startAgent(stationConfig({ ...cfg, url: broker.url, dataDir: tempDir() }), opts)
  const hub = await HubDouble.connect(broker.url, 'S1', hubOpts)
  t.teardown(async () => {
    await agent.stop()
    await hub.close()
    await broker.stop()
  })
  await hub.waitState((s) => s.online, 'the agent online')
  return { broker, agent, hub }
}

/** An aedes broker that can be stopped and started again on the same port (the hub going away). */
export class RestartableBroker {
  port = 0
  broker: Aedes | undefined
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  readonly #clients = new Map<string, Client>()

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    const broker = await Aedes.createBroker()
    broker.on('client', (c: Client) => this.#clients.set(c.id, c))
    const server = createServer((socket) => {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
      broker.handle(socket)
    })
    server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    const addr = server.address()
    this.port = typeof addr === 'object' && addr ? addr.port : 0
    this.broker = broker
    this.#server = server
  }

  /** Gone: every connection cut, nothing listening. */
  async stop(): Promise<void> {
    const broker = this.broker
    const server = this.#server
    this.broker = undefined
    this.#server = undefined
    for (const s of this.#sockets) s.destroy()
    if (broker) await new Promise<void>((r) => broker.close(() => r()))
    if (server) await new Promise<void>((r) => server.close(() => r()))
  }

  /** Cut one client's TCP connection, as a network glitch would (the client reconnects). */
  kick(clientId: string): boolean {
    const client = this.#clients.get(clientId)
    if (!client || !client.connected) return false
    client.conn.destroy()
    return true
  }
}

export interface AgentProcess {
  child: ChildProcess
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** `node --import tsx cli.ts station --config <file>` as a real child process. */
export function spawnAgent(configFile: string, args: string[] = []): AgentProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli.ts'), 'station', '--config', configFile, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, VOLTWAY_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  // 'close', not 'exit': 'exit' may come before the last output has been read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('close', (code, signal) => res({ code, signal })))
  return { child, output: () => out, exited }
}

/** Run the CLI to completion. */
export async function runCli(args: string[], timeoutMs = 30_000, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli.ts'), ...args], { cwd: REPO_ROOT, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
  child.stdin?.end(input)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code] = (await once(child, 'close')) as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

export { waitUntil }
