/**
 * The agent's health loop feeds two watchdogs: the hardware one on the
 * heartbeat pin (only while the agent can vouch for the contacts) and
 * systemd's (sd_notify READY=1 / WATCHDOG=1 through systemd-notify).
 */
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import type { DigitalLevel, OutputPin } from '../hw/types.js'
import { HealthLoop, type Health } from '../station/health-loop.js'
import { SdNotifier } from '../station/sd-notify.js'
import { startAgent, stationConfig, tempDir, waitUntil } from './helpers/station-agent.js'

const log = pino({ level: 'silent' })

function fakePin(): OutputPin & { edges: number } {
  let level: DigitalLevel = 0
  const pin = {
    pin: 8,
    edges: 0,
    get level() {
      return level
    },
    async write(l: DigitalLevel) {
      if (l !== level) pin.edges++
      level = l
    },
    toggle: () => pin.write(level ? 0 : 1),
  }
  return pin
}

/** A stand-in for systemd-notify on PATH: appends its arguments, one call a line. */
function stubNotify(dir: string): { program: string; calls: () => string[] } {
  const program = join(dir, 'systemd-notify')
  const out = join(dir, 'calls.txt')
  writeFileSync(program, `#!/bin/sh\necho "$NOTIFY_SOCKET $*" >> ${out}\n`)
  chmodSync(program, 0o755)
  return { program, calls: () => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n') : []) }
}

t.test('the heartbeat pin toggles only while the agent is safe; an unsafe or hung agent stops feeding it', async (t) => {
  const pin = fakePin()
  let health: Health = { alive: true, safe: true }
  const loop = new HealthLoop({ check: () => health, pin: { output: pin, periodMs: 2000 }, log })
  t.equal(loop.intervalMs, 500, 'a quarter of the watchdog period')
  loop.beat()
  await waitUntil(() => pin.edges === 1)
  loop.beat()
  await waitUntil(() => pin.edges === 2)
  health = { alive: true, safe: false, reason: 'relay state unknown' }
  loop.beat()
  loop.beat()
  health = { alive: false, safe: false, reason: 'stuck' }
  loop.beat()
  await new Promise((r) => setImmediate(r))
  t.equal(pin.edges, 2, 'no edge while unsafe or hung')
})

t.test('the agent is unsafe (no heartbeat edges) while the relay state is unknown or the station is faulted', async (t) => {
  const dataDir = tempDir()
  const agent = await startAgent(stationConfig({ url: 'mqtt://127.0.0.1:1', dataDir }), { systemd: null })
  t.teardown(() => agent.stop(100))
  t.same(agent.health(), { alive: true, safe: true })
  const io = agent.hardware.mock?.io
  if (!io) throw new Error('mock board expected')
  io.failNextWrite(new Error('relay driver burnt'))
  await agent.hardware.relay.close().catch(() => {})
  t.match(agent.health(), { alive: true, safe: false, reason: /relay state unknown/ })
  await agent.hardware.relay.open()
  await agent.charger.fault('METER_READ_FAILED', 'test')
  t.match(agent.health(), { alive: true, safe: false, reason: /faulted/ })
})

t.test('SdNotifier reads NOTIFY_SOCKET and WATCHDOG_USEC (for this pid only) and sends each notification through systemd-notify', async (t) => {
  t.equal(SdNotifier.fromEnv({}), undefined, 'outside systemd: nothing')
  t.equal(SdNotifier.fromEnv({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '20000000' }, 42)?.watchdogMs, 20_000)
  t.equal(SdNotifier.fromEnv({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '20000000', WATCHDOG_PID: '7' }, 42)?.watchdogMs, undefined, 'watchdog meant for another pid')
  const dir = tempDir()
  const stub = stubNotify(dir)
  const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: '/run/test.sock', WATCHDOG_USEC: '1000000' }, process.pid, { program: stub.program })
  await n?.notify('READY=1')
  await n?.notify('WATCHDOG=1')
  t.same(stub.calls(), ['/run/test.sock READY=1', '/run/test.sock WATCHDOG=1'])
  const errors: Error[] = []
  await new SdNotifier({ socket: '/run/x', watchdogMs: undefined, program: join(dir, 'missing'), onError: (e) => errors.push(e) }).notify('READY=1')
  t.equal(errors.length, 1, 'a missing program is reported, never thrown')
})

t.test('the real systemd-notify delivers WATCHDOG=1 as a datagram to $NOTIFY_SOCKET (a socat receiver stands in for systemd)', async (t) => {
  const have = (p: string): boolean => {
    try {
      execFileSync('sh', ['-c', `command -v ${p}`], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  }
  if (!have('socat') || !have('systemd-notify')) {
    t.comment('skipped: needs socat and systemd-notify')
    return
  }
  const sock = join(tempDir(), 'notify')
  const rx = spawn('socat', ['-u', `UNIX-RECV:${sock}`, '-'], { stdio: ['ignore', 'pipe', 'ignore'] })
  t.teardown(() => rx.kill())
  let got = ''
  rx.stdout.on('data', (d: Buffer) => (got += d.toString()))
  await waitUntil(() => existsSync(sock), 5000, 'socat socket')
  // socat never closes the BARRIER=1 fd as systemd does, so systemd-notify waits: the timeout ends it.
  const n = new SdNotifier({ socket: sock, watchdogMs: 1000, timeoutMs: 300 })
  void n.notify('WATCHDOG=1')
  await waitUntil(() => got.includes('WATCHDOG=1'), 5000, 'the datagram')
  t.pass('received')
})

t.test('the agent under systemd says READY=1 at start, WATCHDOG=1 from its health loop, STOPPING=1 on stop', async (t) => {
  const dir = tempDir()
  const stub = stubNotify(dir)
  const systemd = new SdNotifier({ socket: '/run/agent.sock', watchdogMs: 200, program: stub.program })
  const agent = await startAgent(stationConfig({ url: 'mqtt://127.0.0.1:1', dataDir: join(dir, 'data') }), { systemd })
  await waitUntil(() => stub.calls().filter((c) => c.endsWith('WATCHDOG=1')).length >= 2, 5000, 'two watchdog notifications')
  await agent.stop(100)
  const calls = stub.calls()
  t.equal(calls[0], '/run/agent.sock READY=1')
  t.equal(calls.at(-1), '/run/agent.sock STOPPING=1')
})

t.test('a notification other than the keep-alive is never dropped: STOPPING=1 sent while a WATCHDOG=1 is in flight still goes out', async (t) => {
  const dir = tempDir()
  const stub = stubNotify(dir)
  const n = new SdNotifier({ socket: '/run/agent.sock', watchdogMs: 1000, program: stub.program })
  const first = n.notify('WATCHDOG=1')
  const skipped = n.notify('WATCHDOG=1')
  const stopping = n.notify('STOPPING=1')
  await Promise.all([first, skipped, stopping])
  t.same(stub.calls(), ['/run/agent.sock WATCHDOG=1', '/run/agent.sock STOPPING=1'], 'the second keep-alive is skipped, STOPPING=1 waits its turn')
})
