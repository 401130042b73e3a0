/**
 * A port of the demo already taken by another program: `voltway demo` says which hub,
 * which listener (MQTT broker or HTTP server) and which port, with what to do, and exits 2.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { pino } from 'pino'
import { buildDemoConfigs } from '../demo/configs.js'
import { startDemoFederation } from '../demo/federation.js'
import { pickPort } from '../demo/ports.js'
import { ConfigError } from '../protocol/index.js'
import { tempDir } from './helpers/hub.js'

const ROOT = join(import.meta.dirname, '..')
const HINT = 'another program may use the port: stop it or run the demo with --base-port 0 (free ports) or another --base-port'

/**
 * Hold `port` on 127.0.0.1 until the test ends, as another program would. Hubs
 * already up may connect to it (it is a peer's URL): those sockets end with it.
 */
async function occupy(t: Test, port: number): Promise<Server> {
  const sockets = new Set<Socket>()
  const srv = createServer((s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  srv.listen(port, '127.0.0.1')
  await once(srv, 'listening')
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((r) => srv.close(() => r()))
  })
  return srv
}

async function demoConfigs(t: Test): Promise<Awaited<ReturnType<typeof buildDemoConfigs>>> {
  const dir = tempDir('voltway-demo-taken-')
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return buildDemoConfigs(dir, 0)
}

const silent = pino({ level: 'silent' })

/** Resolve once nothing listens on `port` any more (a listen there succeeds). */
async function canListen(port: number): Promise<boolean> {
  const srv = createServer()
  srv.listen(port, '127.0.0.1')
  try {
    await once(srv, 'listening')
  } catch {
    return false
  }
  await new Promise<void>((r) => srv.close(() => r()))
  return true
}

t.test("the first hub's MQTT port taken: the error names the hub, its MQTT broker and the port", async (t) => {
  const cfgs = await demoConfigs(t)
  const hub = cfgs.hubs[0]
  if (!hub || !('listen' in hub.mqtt)) throw new Error('the demo hub has an embedded broker')
  const port = hub.mqtt.listen.port
  await occupy(t, port)
  const err = await startDemoFederation(cfgs, silent).catch((e: unknown) => e)
  t.type(err, ConfigError, 'a ConfigError: one line and exit 2 from the CLI')
  t.equal((err as Error).message, `demo: hub ${hub.hubId}: its MQTT broker cannot listen on 127.0.0.1:${port} (EADDRINUSE); ${HINT}`)
})

t.test("a later hub's HTTP port taken: the error names that hub, its HTTP server and the port, and the hubs already up are closed", async (t) => {
  const cfgs = await demoConfigs(t)
  const [first, second] = cfgs.hubs
  if (!first || !second || !('listen' in first.mqtt) || !('listen' in second.mqtt)) throw new Error('the demo has hubs with embedded brokers')
  const port = second.http.port
  await occupy(t, port)
  const err = await startDemoFederation(cfgs, silent).catch((e: unknown) => e)
  t.type(err, ConfigError)
  t.equal((err as Error).message, `demo: hub ${second.hubId}: its HTTP server cannot listen on 127.0.0.1:${port} (EADDRINUSE); ${HINT}`)
  for (const p of [first.mqtt.listen.port, first.http.port, second.mqtt.listen.port]) t.ok(await canListen(p), `port ${p} is free again`)
})

t.test('voltway demo with a port taken prints one line naming the listener, no stack trace, and exits 2', async (t) => {
  // The first listener the demo opens is the first hub's broker, on base + 11: held here, so the demo fails there at once.
  const port = await pickPort()
  await occupy(t, port)
  const demo = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli.ts'), 'demo', '--base-port', String(port - 11), '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (demo.exitCode === null) demo.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  demo.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  demo.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const [code] = (await once(demo, 'close')) as [number | null]
  t.equal(code, 2, `exit 2 (stderr: ${stderr})`)
  t.equal(stderr, `demo: hub salvador: its MQTT broker cannot listen on 127.0.0.1:${port} (EADDRINUSE); ${HINT}\n`)
  t.equal(stdout, '', 'nothing on stdout with --json')
})
