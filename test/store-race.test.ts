/**
 * The window rule holds across PROCESSES: several node processes open the
 * same database (one SQLite file; one PostgreSQL database, as hub replicas
 * would) and race to book; the database, not any process's memory, decides.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import type { BookingCandidate, Store } from '../hub/store/index.js'
import type { RacePlan, RaceReport, RaceTarget } from './fixtures/race-worker.js'
import { tempDir } from './helpers/hub.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'
import { tempSqlite } from './helpers/store-sqlite.js'

const WORKER = fileURLToPath(new URL('./fixtures/race-worker.ts', import.meta.url))
const MIN = 60_000
const WINDOW = 120 * MIN
const NOW = Date.parse('2026-11-24T12:00:00Z')
const AT = NOW + 3 * 60 * MIN
const st = (id: string): BookingCandidate => ({ stationId: id, position: { lat: -12.25, lon: -38.95 } })

/** One empty database for one race: where the workers connect, and a store of the test's own on it. */
interface Arena {
  target: RaceTarget
  /** Open (creating and migrating) the database from the test process, as a hub would. */
  open(): Promise<Store>
}

interface Backend {
  name: string
  arena(t: Test): Arena
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    arena(t) {
      const tmp = tempSqlite()
      t.teardown(() => tmp.dispose())
      return { target: { type: 'sqlite', dataDir: tmp.dir }, open: async () => tmp.open() }
    },
  },
]
const pgSkip = await postgresSkipReason()
if (pgSkip) {
  t.skip(`SKIP PostgreSQL races: ${pgSkip}`, () => undefined)
} else {
  const db = await tempPostgres()
  t.teardown(() => db.dispose())
  backends.push({
    name: 'PostgreSQL',
    arena(t) {
      const schema = db.schema()
      t.teardown(() => schema.dispose())
      return { target: { type: 'postgres', url: db.url, schema: schema.name }, open: () => schema.open() }
    },
  })
}

/** Start one worker per plan, release them together, collect their reports. */
async function race(target: RaceTarget, plans: RacePlan['attempts'][]): Promise<RaceReport[]> {
  const dir = tempDir('voltway-race-')
  const children = plans.map((attempts, i) => {
    const file = join(dir, `plan-${i}.json`)
    const plan: RacePlan = { target, windowMs: WINDOW, nowMs: NOW, attempts }
    writeFileSync(file, JSON.stringify(plan))
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, file], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines = createInterface({ input: child.stdout })
    const ready = new Promise<void>((resolve, reject) => {
      lines.once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`worker ${i} said ${l}`))))
      child.once('exit', (code) => reject(new Error(`worker ${i} exited with ${String(code)} before ready`)))
    })
    const report = new Promise<RaceReport>((resolve, reject) => {
      let last = ''
      lines.on('line', (l) => (last = l))
      child.once('close', (code) => (code === 0 ? resolve(JSON.parse(last) as RaceReport) : reject(new Error(`worker ${i} exited with ${String(code)}`))))
    })
    return { child, ready, report }
  })
  const timer = setTimeout(() => children.forEach((c) => c.child.kill()), 60_000)
  try {
    await Promise.all(children.map((c) => c.ready))
    const startAt = Date.now() + 100
    for (const c of children) c.child.stdin.write(`go ${startAt}\n`)
    return await Promise.all(children.map((c) => c.report))
  } finally {
    clearTimeout(timer)
  }
}

for (const { name, arena } of backends) {
  t.test(`${name}: two processes racing 200 attempts for one station slot: exactly one winner`, async (t) => {
    const a = arena(t)
    const store = await a.open() // create and migrate the database first, as a hub would
    // Every attempt lies within half a window of every other, so any two of them conflict.
    const plan = (w: number): RacePlan['attempts'] =>
      Array.from({ length: 100 }, (_, i) => ({ reservationId: `w${w}-${i}`, vehicleId: `V${w}`, atMs: AT + ((i * 7 + w) % 60) * MIN, candidates: [st('S1')] }))
    const reports = await race(a.target, [plan(0), plan(1)])
    const won = reports.flatMap((r) => r.won)
    t.equal(won.length, 1, `winners: ${JSON.stringify(won)}`)
    t.equal(reports.reduce((n, r) => n + r.lost, 0), 199)
    t.same(reports.flatMap((r) => r.errors), [])
    t.equal((await store.reservations.counts(NOW)).reservations, 1)
  })

  t.test(`${name}: four processes picking the first free of three stations: one booking per station, never two`, async (t) => {
    const a = arena(t)
    await a.open()
    const orders = [['A', 'B', 'C'], ['C', 'B', 'A'], ['B', 'A', 'C'], ['A', 'C', 'B']]
    const plans = orders.map((order, w) =>
      Array.from({ length: 50 }, (_, i) => ({ reservationId: `w${w}-${i}`, vehicleId: `V${w}`, atMs: AT + (i % 30) * MIN, candidates: order.map(st) })),
    )
    const reports = await race(a.target, plans)
    const won = reports.flatMap((r) => r.won)
    t.same(won.map((w) => w.stationId).sort(), ['A', 'B', 'C'])
    t.same(reports.flatMap((r) => r.errors), [])
  })

  t.test(`${name}: four processes booking scattered times: no two bookings of a station closer than the window`, async (t) => {
    const a = arena(t)
    // Nothing opened first: the racing processes create and migrate the database at the same moment.
    let seed = 42
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const plans = [0, 1, 2, 3].map((w) =>
      Array.from({ length: 150 }, (_, i) => ({
        reservationId: `w${w}-${i}`,
        vehicleId: `V${w}`,
        atMs: AT + Math.floor(rand() * 3 * 24 * 60) * MIN,
        candidates: [st('S1'), st('S2')].slice(w % 2),
      })),
    )
    const reports = await race(a.target, plans)
    t.same(reports.flatMap((r) => r.errors), [])
    const won = reports.flatMap((r) => r.won)
    t.ok(won.length > 2, `${won.length} bookings made`)
    for (const s of ['S1', 'S2']) {
      const times = won.filter((w) => w.stationId === s).map((w) => w.atMs).sort((a, b) => a - b)
      const tooClose = times.slice(1).filter((at, i) => at - (times[i] as number) < WINDOW)
      t.same(tooClose, [], `station ${s}: ${times.length} bookings, none closer than the window`)
    }
  })
}
