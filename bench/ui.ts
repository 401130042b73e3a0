/**
 * The dashboard under load: a hub with 1,000 stations, 100 of them charging
 * (telemetry at 10 Hz each, as recorded by the station observer) and 20
 * status flips a second, the stations page open in headless chromium. Prints
 * the live feed's rate as the page applies it (patches and station rows per
 * second), the page's frame rate and longest frame gap (responsiveness), and
 * the age of each patch on arrival.
 * Run: node --import tsx bench/ui.ts [--stations 1000] [--sessions 100] [--seconds 10] [--json]
 */
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'
import { pino } from 'pino'
import { startHub } from '../hub/app.js'
import { HubConfigSchema } from '../hub/config.js'
import { MemoryStore } from '../hub/store/index.js'
import { ensureUiBuilt, OPERATOR } from '../test/helpers/ui-browser.js'
import { tempDir } from '../test/helpers/hub-config.js'
import { report } from './report.js'

const { values } = parseArgs({ options: { stations: { type: 'string', default: '1000' }, sessions: { type: 'string', default: '100' }, seconds: { type: 'string', default: '10' }, json: { type: 'boolean', default: false } } })
const N = Number(values.stations)
const S = Number(values.sessions)
const SECONDS = Number(values.seconds)

if (!existsSync('/usr/bin/chromium')) {
  process.stderr.write('bench/ui: no /usr/bin/chromium (apt-get install chromium); skipped\n')
  report([])
  process.exit(0)
}
ensureUiBuilt()

const stations = Array.from({ length: N }, (_, i) => ({
  stationId: `ST-${i}`,
  position: { lat: -10 - (i % 40) * 0.15, lon: -38 - Math.floor(i / 40) * 0.25 },
  powerKw: 22,
  priceMinorPerKwh: 80,
  password: `pw-${i}`,
}))
const cfg = HubConfigSchema.parse({
  hubId: 'bench', name: 'Bench', city: 'Bench', position: { lat: -12, lon: -39 }, currency: 'BRL', dataDir: tempDir('voltway-bench-ui-'),
  mqtt: { listen: { host: '127.0.0.1', port: 0 } }, http: { host: '127.0.0.1', port: 0 }, stations, operators: [OPERATOR],
})
const store = new MemoryStore()
const hub = await startHub(cfg, { logger: pino({ level: 'silent' }), ephemeralPorts: true, store })
const reg = hub.context.stations
const ts = (): string => new Date().toISOString()
const state = (status: 'available' | 'charging' | 'faulted', sessionId: string | null) => ({ online: true, status, sessionId, meterWh: 0, agentVersion: 'bench', ts: ts() })
for (const s of stations) reg.applyState(s.stationId, state('available', null))
const now = Date.now()
for (let i = 0; i < S; i++) {
  const sessionId = `sess-${i}`
  await store.charging.openSession({ sessionId, stationId: `ST-${i}`, vehicleId: `V${i}`, reservationId: null, startedAtMs: now, maxWh: null, priceMinorPerKwh: 80, currency: 'BRL' })
  await store.charging.markCharging(sessionId, 0)
  reg.applyState(`ST-${i}`, state('charging', sessionId))
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] })
const page = await (await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } })).newPage()
await page.goto(`${hub.httpUrl}/ui/`)
await page.fill('#token', OPERATOR.token)
await page.click('button[type=submit]')
await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 })

// Load: telemetry for every session at 10 Hz, and S/5 status flips a second among the idle stations.
let tick = 0
const load = setInterval(() => {
  tick++
  const t = Date.now()
  for (let i = 0; i < S; i++) hub.ui.parts.power.record(`ST-${i}`, `sess-${i}`, { t, powerW: 20_000 + ((tick * 37 + i * 101) % 2000), meterWh: tick * 6 + i })
  for (let k = 0; k < S / 50; k++) {
    const i = S + ((tick * 7 + k * 13) % (N - S))
    reg.applyState(`ST-${i}`, state(tick % 2 === 0 ? 'faulted' : 'available', null))
  }
}, 100)

type Probe = { applied: number; rows: number; frames: number; maxGap: number; lags: number[] }
// A string, not a function: tsx would wrap a function's inner names in a helper the page does not have.
const PROBE = `(() => {
  const live = window.__voltwayLive
  if (!window.__probe) {
    const p = { frames: 0, maxGap: 0, last: performance.now(), lags: [] }
    window.__probe = p
    const frame = (t) => { p.frames++; p.maxGap = Math.max(p.maxGap, t - p.last); p.last = t; requestAnimationFrame(frame) }
    requestAnimationFrame(frame)
    let seen = live.applied
    setInterval(() => { if (live.applied !== seen) p.lags.push(live.lastLagMs); seen = live.applied }, 50)
  }
  const p = window.__probe
  return { applied: live.applied, rows: live.rowsApplied, frames: p.frames, maxGap: p.maxGap, lags: [...p.lags] }
})()`
const probe = (): Promise<Probe> => page.evaluate(PROBE) as Promise<Probe>

await probe()
await new Promise((r) => setTimeout(r, 1000))
const a = await probe()
await new Promise((r) => setTimeout(r, SECONDS * 1000))
const b = await probe()
clearInterval(load)
const lags = b.lags.slice(a.lags.length).sort((x, y) => x - y)
const p = (q: number): number => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? NaN
const patchesPerS = (b.applied - a.applied) / SECONDS
const fps = (b.frames - a.frames) / SECONDS
report([
  { bench: 'ui', metric: `patches applied/s (${N} stations, ${S} live sessions)`, value: patchesPerS, unit: '1/s', goal: '>= 3', ok: patchesPerS >= 3 },
  { bench: 'ui', metric: 'station rows applied/s', value: (b.rows - a.rows) / SECONDS, unit: '1/s' },
  { bench: 'ui', metric: 'page frames/s under load', value: fps, unit: 'fps', goal: '>= 30', ok: fps >= 30 },
  { bench: 'ui', metric: 'longest frame gap', value: b.maxGap, unit: 'ms' },
  { bench: 'ui', metric: 'patch age on arrival p50', value: p(0.5), unit: 'ms' },
  { bench: 'ui', metric: 'patch age on arrival p99', value: p(0.99), unit: 'ms', goal: '<= 1000', ok: p(0.99) <= 1000 },
])
await browser.close()
await hub.close()
