/** `voltway demo` as a new user runs it: the story happens, and the printed mosquitto commands work. */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { mosquittoTools } from './helpers/mosquitto.js'
import { tempDir } from './helpers/hub.js'

const ROOT = join(import.meta.dirname, '..')
const CLI = ['--import', 'tsx', join(ROOT, 'cli.ts')]

t.test('voltway demo tells its story and exits 0: trip booked, the loser rolled back with nothing left, a roaming charge through the home hub with the station company\'s receipt, listed once', async (t) => {
  const r = spawnSync(process.execPath, [...CLI, 'demo', '--base-port', '0', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, `exit 0 (stderr: ${r.stderr.slice(0, 500)})`)
  const outcome = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>
  t.match(outcome, {
    ok: true,
    tripId: String,
    loserError: { code: 'ROUTE_FAILED', details: { failedHop: Number, reason: 'NO_STATION_AVAILABLE', rolledBack: true } },
    loserBookingsLeft: 0,
    receipt: { energyWh: Number, costMinor: Number, currency: 'BRL' },
  })
  const receipt = outcome.receipt as { energyWh: number; costMinor: number; priceMinorPerKwh: number }
  t.ok(receipt.energyWh > 0, `energy flowed (${receipt.energyWh} Wh)`)
  t.equal(receipt.costMinor, Math.round((receipt.energyWh * receipt.priceMinorPerKwh) / 1000))
  t.ok((outcome.historyCount as number) >= 1, 'the history shows the receipt')
  t.equal(outcome.homeHub, 'salvador', 'the driver asked her home hub')
  t.not((outcome.receipt as { hubId: string }).hubId, outcome.homeHub, "she charged at another company's station (roaming), billed by that company")
  t.equal(outcome.receiptListed, 1, 'her history lists the roaming receipt once')
})

const { rr } = mosquittoTools()
t.test('the printed mosquitto_rr example against voltway demo --keep-running gets the documented answer', { skip: rr ? false : 'mosquitto_rr not installed' }, async (t) => {
  const dir = tempDir('voltway-demo-test-')
  const demo = spawn(process.execPath, [...CLI, 'demo', '--keep-running', '--base-port', '0', '--dir', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (demo.exitCode === null) demo.kill('SIGKILL')
  })
  let out = ''
  demo.stdout.on('data', (d: Buffer) => (out += d.toString()))
  demo.stderr.on('data', (d: Buffer) => (out += d.toString()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not print its connection details:\n${out}`)), 60_000)
    const check = (): void => {
      if (out.includes('Press Ctrl-C to stop')) {
        clearTimeout(timer)
        resolve()
      }
    }
    demo.stdout.on('data', check)
    demo.once('exit', () => reject(new Error(`demo exited early:\n${out}`)))
  })
  t.match(out, 'Connect as the vehicle "tester" (a customer of Baía Eletroposto;', 'the tester is a customer of the company the story names (not of a "Salvador Charging" it never mentions)')
  const dashboards = [...out.matchAll(/(http:\/\/\S+)\/ui\/\s+token (\S+)/g)]
  t.equal(dashboards.length, 4, "each hub's dashboard URL and login is printed")
  for (const [, base, token] of dashboards) {
    const res = await fetch(`${base}/ui/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: token as string }).toString() })
    t.equal(res.status, 303, `the printed token logs in at ${base}/ui/`)
  }
  const rrLine = out.split('\n').find((l) => l.trim().startsWith('mosquitto_rr'))?.trim()
  t.ok(rrLine, 'the demo printed the command')
  // Run it as a user would paste it into a shell: it subscribes, asks, prints the answer and exits.
  const r = spawnSync('sh', ['-c', `${rrLine as string} -W 20`], { timeout: 30_000 })
  t.equal(r.status, 0, 'mosquitto_rr got its answer')
  const answer = r.stdout.toString()
  const reply = JSON.parse(answer.trim()) as { id: string; ok: boolean; result: { stations: Array<{ stationId: string; distanceKm: number }> } }
  t.match(reply, { id: '1', ok: true })
  t.ok(reply.result.stations.length > 0 && reply.result.stations.every((s) => s.stationId.startsWith('SSA-')), 'the nearest Salvador stations are listed')
  demo.kill('SIGINT')
  const code = await new Promise<number | null>((r) => demo.once('exit', (c) => r(c)))
  t.equal(code, 0, 'Ctrl-C stops the federation cleanly')
})
