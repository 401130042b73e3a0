/**
 * Hub replicas on PostgreSQL against SQLite, in one run: reservation.create
 * and 3-hop route.reserve (Feira → Salvador → Ilhéus, three companies) sent
 * by 64 vehicles over MQTT, each with one request in flight and a new
 * request id per call, to `voltway hub --replica NAME` processes behind one
 * Mosquitto per company (configured by `voltway hub acl --replicas r1,r2`).
 *
 * Three set-ups differ in the store only (every hub runs as `--replica`, so
 * the MQTT path is the same): SQLite (`sqlite`), PostgreSQL with one replica
 * of Feira (`pg1`), PostgreSQL with two (`pg2`). The peers Salvador and
 * Ilhéus run one replica each on the set-up's store: hub.json peers have one
 * `url`, so a second replica of a peer would receive no calls. Each set-up
 * starts on an empty database, in the order sqlite, pg1, pg2, pg2, pg1,
 * sqlite (`--passes 2`), so drift on a shared machine hurts all alike.
 * Measuring starts once every hub has hashed the passwords seeded from its
 * hub.json into its store (the hubs do that in the background after start).
 * PostgreSQL runs as the server is configured (synchronous_commit as it is;
 * the row says which).
 *
 * Goals (issue 12): PostgreSQL with one replica >= 0.5x SQLite; two replicas
 * >= one; for creates and for trips alike.
 * Run: node --import tsx bench/replicas.ts [--seconds S] [--vehicles N] [--passes P] [--setups sqlite,pg1,pg2] [--ops create,trip] [--json]
 * Profile the hubs: VOLTWAY_HUB_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' (test/helpers/hub-process.ts passes it to each hub's node; they write on SIGTERM).
 */
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { connectAsync, type MqttClient } from 'mqtt'
import prand from 'pure-rand'
import Database from 'better-sqlite3'
import { SEED_PENDING } from '../hub/broker/password-hash.js'
import { runAclCommand } from '../hub/commands/acl.js'
import type { HubConfig } from '../hub/config.js'
import { VoltwayError, createRpcClient, formatTime, type RpcClient } from '../protocol/index.js'
import { BAHIA, BAHIA_LINKS, specConfig, token, type HubSpec } from '../test/helpers/federation-hubs.js'
import { tempDir } from '../test/helpers/hub-config.js'
import { spawnHub, type HubProcess } from '../test/helpers/hub-process.js'
import { mosquittoBinary, runMosquittoConf, type MosquittoProcess } from '../test/helpers/mosquitto.js'
import { freePort } from '../test/helpers/net.js'
import { postgresSkipReason, tempPostgres, type TempPostgres } from '../test/helpers/store-postgres.js'
import { BENCH_RULES, closedLoop } from './bench-hub.js'
import { percentile, report, type BenchRow } from './report.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    vehicles: { type: 'string', default: '64' },
    passes: { type: 'string', default: '2' },
    setups: { type: 'string', default: 'sqlite,pg1,pg2' },
    /** Which ops to measure (one alone, e.g. to profile the hubs under it). */
    ops: { type: 'string', default: 'create,trip' },
    json: { type: 'boolean', default: false },
  },
})
const SECONDS = Number(values.seconds)
const VEHICLES = Number(values.vehicles)
const PASSES = Number(values.passes)
const BENCH = 'replicas'
const OPS = new Set(values.ops.split(','))

type SetupName = 'sqlite' | 'pg1' | 'pg2'
const SETUPS: Record<SetupName, { label: string; store: 'sqlite' | 'postgres'; replicas: string[] }> = {
  sqlite: { label: 'SQLite, 1 replica', store: 'sqlite', replicas: ['r1'] },
  pg1: { label: 'PostgreSQL, 1 replica', store: 'postgres', replicas: ['r1'] },
  pg2: { label: 'PostgreSQL, 2 replicas', store: 'postgres', replicas: ['r1', 'r2'] },
}

const skip = mosquittoBinary() === null ? 'mosquitto is not installed' : await postgresSkipReason()
if (skip !== null) {
  report([{ bench: BENCH, metric: `skipped: ${skip}`, value: NaN, unit: '' }])
  process.exit(0)
}

const dir = tempDir('voltway-bench-replicas-')
const db: TempPostgres = await tempPostgres()
const brokers: MosquittoProcess[] = []
const running: HubProcess[] = []
const close = async (): Promise<void> => {
  await Promise.allSettled(running.splice(0).map((h) => h.kill()))
  for (const b of brokers.splice(0)) await b.close()
  await db.dispose()
  rmSync(dir, { recursive: true, force: true })
}

try {
  await main()
} finally {
  await close()
}

/**
 * Until every hub's store holds the scrypt hashes of the passwords seeded from its hub.json
 * (hub/accounts/service.ts `seed`: pending rows read SEED_PENDING), which a hub writes in the
 * background after start; hashing them takes a core for seconds, so a run that overlapped it
 * would measure it too. Read from the database: a SQLite file or the run's PostgreSQL schemas.
 */
async function passwordsSeeded(hubIds: string[], store: 'sqlite' | 'postgres', run: number): Promise<void> {
  const pending = async (hubId: string): Promise<number> => {
    if (store === 'postgres') return Number((await db.sql<{ n: string }>(`SELECT count(*) AS n FROM ${hubId}_${run}.accounts WHERE password_hash = $1`, [SEED_PENDING])).rows[0]?.n ?? 0)
    const file = new Database(join(dir, `run-${run}`, hubId, 'hub.sqlite'), { readonly: true, fileMustExist: true })
    try {
      return (file.prepare('SELECT count(*) AS n FROM accounts WHERE password_hash = ?').get(SEED_PENDING) as { n: number }).n
    } finally {
      file.close()
    }
  }
  const deadline = Date.now() + 120_000
  for (const hubId of hubIds) {
    while ((await pending(hubId)) > 0) {
      if (Date.now() > deadline) throw new Error(`hub ${hubId}: passwords still being hashed after 120 s`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

async function main(): Promise<void> {
  // Feira's stations: BAHIA's two for the trips, and 62 more in a 60 km square for the creates.
  const feira = BAHIA[0] as HubSpec
  const box = { lat: feira.position.lat, lon: feira.position.lon, half: 0.27 }
  const extra = Array.from({ length: 62 }, (_, i) => ({
    stationId: `FSA-B${i}`,
    position: { lat: box.lat - box.half + ((i % 8) + 0.5) * (box.half / 4), lon: box.lon - box.half + (Math.floor(i / 8) + 0.5) * (box.half / 4) },
  }))
  const specs: HubSpec[] = [{ ...feira, stations: [...feira.stations, ...extra] }, ...BAHIA.slice(1)]
  const links = BAHIA_LINKS.filter((l) => !(l.from === 'feira' && l.to === 'ilheus')) // one route: the 3-hop one
  const vehicles = Array.from({ length: VEHICLES }, (_, i) => ({ vehicleId: `BV${i}`, password: `bench-BV${i}` }))

  // One Mosquitto per company for the whole run, configured by `voltway hub acl --replicas r1,r2`.
  const http = new Map<string, number>()
  for (const s of specs) http.set(s.hubId, await freePort())
  const base = new Map<string, HubConfig>()
  const mqttUrl = new Map<string, string>()
  for (const s of specs) {
    const port = await freePort()
    const cfg = specConfig(s, {
      dataDir: join(dir, s.hubId),
      mqtt: { url: `mqtt://127.0.0.1:${port}`, username: `hub.${s.hubId}`, password: `${s.hubId}-mqtt-secret` },
      httpPort: http.get(s.hubId) ?? 0,
      vehicles: s.hubId === 'feira' ? vehicles : [],
      peers: specs.filter((o) => o.hubId !== s.hubId).map((o) => ({ hubId: o.hubId, url: `http://127.0.0.1:${http.get(o.hubId)}`, token: token(s.hubId, o.hubId), acceptToken: token(o.hubId, s.hubId) })),
      links,
      rules: BENCH_RULES,
    })
    base.set(s.hubId, cfg)
    mqttUrl.set(s.hubId, cfg.mqtt && 'url' in cfg.mqtt ? cfg.mqtt.url : '')
    const confDir = join(dir, `mosquitto-${s.hubId}`)
    mkdirSync(confDir, { recursive: true })
    const file = join(confDir, 'hub.json')
    writeFileSync(file, JSON.stringify(cfg))
    runAclCommand({ config: file, out: confDir, replicas: 'r1,r2' })
    // As root, Mosquitto would drop to user mosquitto, which cannot read the 0600 files (as in broker-mosquitto-acl.test.ts).
    if (process.getuid?.() === 0) appendFileSync(join(confDir, 'mosquitto.conf'), 'user root\n')
    brokers.push(await runMosquittoConf(join(confDir, 'mosquitto.conf'), port, confDir))
  }
  const feiraMqtt = mqttUrl.get('feira') as string

  const sync = (await db.sql<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]?.synchronous_commit ?? '?'
  const order: SetupName[] = []
  const chosen = (Object.keys(SETUPS) as SetupName[]).filter((n) => values.setups.split(',').includes(n))
  for (let p = 0; p < PASSES; p++) order.push(...(p % 2 === 0 ? chosen : [...chosen].reverse()))

  const samples = new Map<string, Sample[]>()
  const add = (key: string, s: Sample): void => void samples.set(key, [...(samples.get(key) ?? []), s])

  let run = 0
  for (const name of order) {
    const setup = SETUPS[name]
    run++
    process.stderr.write(`replicas: ${setup.label} (${run}/${order.length}) ...\n`)
    // A fresh, empty database for every start: a SQLite dataDir, or a PostgreSQL schema per company.
    const procs: HubProcess[] = []
    const start = async (hubId: string, replicas: string[]): Promise<HubProcess[]> => {
      const cfg0 = base.get(hubId) as HubConfig
      const store = setup.store === 'sqlite' ? { type: 'sqlite' as const } : { type: 'postgres' as const, url: db.url, schema: `${hubId}_${run}` }
      const cfg: HubConfig = { ...cfg0, dataDir: join(dir, `run-${run}`, hubId), store }
      const out: HubProcess[] = []
      // The first replica creates and migrates the database; the others then open it.
      for (const [i, r] of replicas.entries()) {
        const port = i === 0 ? cfg.http.port : await freePort()
        const p = await spawnHub(cfg, dir, 60_000, { args: ['--replica', r, '--http-port', String(port)] })
        running.push(p)
        out.push(p)
      }
      return out
    }
    const [salvador, ilheus] = await Promise.all([start('salvador', ['r1']), start('ilheus', ['r1'])])
    const feiraProcs = await start('feira', setup.replicas)
    procs.push(...(salvador ?? []), ...(ilheus ?? []), ...feiraProcs)
    // Not measured: hub.json's passwords hashed into each store in the background after start (scrypt, ~130 at feira).
    await passwordsSeeded(specs.map((sp) => sp.hubId), setup.store, run)

    const fleet = await connectFleet(feiraMqtt, vehicles)
    try {
      const listed = await fleet[0]?.rpc.request('route.list', { destination: 'ilheus' })
      if (!listed || listed.route.hops.length !== 3) throw new Error(`expected a 3-hop route, got ${JSON.stringify(listed?.route)}`)
      const routeId = listed.route.routeId
      const t0 = Date.now() + 3 * 3_600_000
      // The same positions in every set-up.
      const rng = prand.xoroshiro128plus(7)
      const rnd = (): number => prand.unsafeUniformIntDistribution(0, 1_000_000, rng) / 1_000_000
      // Every create and every trip at its own time, 3 and 5 hours apart: no two ever compete for a station.
      let k = 0
      // Why calls failed, by error code, printed to stderr.
      const failures = new Map<string, number>()
      const noted = <T>(p: Promise<T>): Promise<T> =>
        p.catch((err: unknown) => {
          const code = err instanceof VoltwayError ? `${err.code}: ${err.message.slice(0, 100)}` : String(err)
          failures.set(code, (failures.get(code) ?? 0) + 1)
          throw err
        })
      const create = (v: number) => {
        const f = fleet[v] as Vehicle
        const at = t0 + k++ * 3 * 3_600_000
        const position = { lat: box.lat + (rnd() - 0.5) * 2 * box.half, lon: box.lon + (rnd() - 0.5) * 2 * box.half }
        return noted(f.rpc.request('reservation.create', { at: formatTime(at), position, rangeKm: 50 }))
      }
      let s = 0
      const trip = (v: number) => {
        const f = fleet[v] as Vehicle
        const at = t0 + s++ * 5 * 3_600_000
        return noted(f.rpc.request('route.reserve', { routeId, times: [formatTime(at), formatTime(at + 3_600_000), formatTime(at + 2 * 3_600_000)], position: feira.position, rangeKm: 250 }))
      }
      if (OPS.has('create')) {
        await closedLoop(VEHICLES, Math.min(1, SECONDS / 4), (_, v) => create(v)) // warm-up: JIT, pools, connections
        add(`${name}/create`, await measured(procs, () => closedLoop(VEHICLES, SECONDS, (_, v) => create(v))))
      }
      if (OPS.has('trip')) {
        await closedLoop(VEHICLES, Math.min(1, SECONDS / 4), (_, v) => trip(v))
        add(`${name}/trip`, await measured(procs, () => closedLoop(VEHICLES, SECONDS, (_, v) => trip(v))))
      }
      for (const [why, n] of failures) process.stderr.write(`replicas: ${setup.label}: ${n} failed: ${why}\n`)
    } finally {
      await Promise.all(fleet.map((f) => f.close()))
      for (const p of procs) {
        await p.kill()
        running.splice(running.indexOf(p), 1)
      }
    }
  }

  const rows: BenchRow[] = []
  const merged = (key: string): Sample => {
    const xs = samples.get(key) ?? []
    return {
      rate: xs.reduce((a, x) => a + x.rate, 0) / Math.max(1, xs.length),
      errors: xs.reduce((a, x) => a + x.errors, 0),
      latencies: xs.flatMap((x) => x.latencies).sort((a, b) => a - b),
      hubCpuMsPerOp: xs.reduce((a, x) => a + x.hubCpuMsPerOp, 0) / Math.max(1, xs.length),
      pgCpuMsPerOp: xs.reduce((a, x) => a + x.pgCpuMsPerOp, 0) / Math.max(1, xs.length),
      machineBusy: xs.reduce((a, x) => a + x.machineBusy, 0) / Math.max(1, xs.length),
      machineCpuMsPerOp: xs.reduce((a, x) => a + x.machineCpuMsPerOp, 0) / Math.max(1, xs.length),
    }
  }
  for (const [op, what, unit] of [
    ['create', 'reservation.create', 'req/s'],
    ['trip', '3-hop route.reserve', 'trips/s'],
  ] as const) {
    if (!OPS.has(op)) continue
    const m = Object.fromEntries(chosen.map((n) => [n, merged(`${n}/${op}`)])) as Partial<Record<SetupName, Sample>>
    for (const n of chosen) {
      const x = m[n] as Sample
      const label = `${what}, ${SETUPS[n].label}`
      rows.push({ bench: BENCH, metric: `${label}, ${VEHICLES} vehicles`, value: Math.round(x.rate), unit })
      rows.push({ bench: BENCH, metric: `${label}, p50`, value: percentile(x.latencies, 50), unit: 'ms' })
      rows.push({ bench: BENCH, metric: `${label}, p99`, value: percentile(x.latencies, 99), unit: 'ms' })
      rows.push({ bench: BENCH, metric: `${label}, hub processes' CPU per ${op}`, value: x.hubCpuMsPerOp, unit: 'ms' })
      if (SETUPS[n].store === 'postgres') rows.push({ bench: BENCH, metric: `${label}, PostgreSQL's CPU per ${op}`, value: x.pgCpuMsPerOp, unit: 'ms' })
      rows.push({ bench: BENCH, metric: `${label}, the whole machine's CPU per ${op} (every process: hubs, PostgreSQL, Mosquitto, vehicles, other load)`, value: x.machineCpuMsPerOp, unit: 'ms' })
      rows.push({ bench: BENCH, metric: `${label}, machine CPU busy (${cpus().length} cores)`, value: 100 * x.machineBusy, unit: '%' })
      rows.push({ bench: BENCH, metric: `${label}, failed`, value: x.errors, unit: op === 'create' ? 'requests' : 'trips', goal: '0', ok: x.errors === 0 })
    }
    if (m.pg1 && m.sqlite) {
      const r = m.pg1.rate / m.sqlite.rate
      rows.push({ bench: BENCH, metric: `${what}: PostgreSQL 1 replica / SQLite`, value: r, unit: 'ratio', goal: '>= 0.5', ok: r >= 0.5 })
    }
    if (m.pg2 && m.pg1) {
      const r = m.pg2.rate / m.pg1.rate
      rows.push({ bench: BENCH, metric: `${what}: PostgreSQL 2 replicas / 1 replica`, value: r, unit: 'ratio', goal: '>= 1', ok: r >= 1 })
    }
  }
  rows.push({ bench: BENCH, metric: `PostgreSQL synchronous_commit = ${sync}; runs per set-up`, value: PASSES, unit: '' })
  report(rows)
}

interface Sample {
  rate: number
  errors: number
  latencies: number[]
  /** CPU of the hub processes per completed call, ms. */
  hubCpuMsPerOp: number
  /** CPU of the PostgreSQL backends per completed call, ms (0 on SQLite). */
  pgCpuMsPerOp: number
  /** Share of all cores' time busy meanwhile (Linux /proc/stat), 0-1: near 1, no core was left for another replica. */
  machineBusy: number
  /** Busy CPU time of the whole machine per completed call, ms. */
  machineCpuMsPerOp: number
}

interface Vehicle {
  rpc: RpcClient
  close(): Promise<void>
}

/** One MQTT connection per vehicle, logged in with its own password, as a fleet would be. */
async function connectFleet(url: string, creds: ReadonlyArray<{ vehicleId: string; password: string }>): Promise<Vehicle[]> {
  return Promise.all(
    creds.map(async (c) => {
      const client: MqttClient = await connectAsync(url, { protocolVersion: 5, clientId: c.vehicleId, username: c.vehicleId, password: c.password, reconnectPeriod: 0 })
      const rpc = createRpcClient({ client, hubId: 'feira', vehicleId: c.vehicleId, timeoutMs: 30_000, validateResults: false })
      await rpc.start()
      return {
        rpc,
        async close() {
          await rpc.close()
          await client.endAsync()
        },
      }
    }),
  )
}

/**
 * Run `work` and add the CPU time spent meanwhile (Linux /proc) per completed
 * call: by the hub processes, and by the PostgreSQL server processes serving
 * this run's database (the backends connected at the start; the warm-up has
 * filled the pools).
 */
async function measured(procs: readonly HubProcess[], work: () => Promise<{ rate: number; errors: number; latencies: number[] }>): Promise<Sample> {
  const backends = (await db.sql<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.database])).rows.map((r) => r.pid)
  const pids = [...procs.map((p) => p.proc.pid), ...backends]
  const before = pids.map(cpuMs)
  const machineBefore = machineTicks()
  const t0 = performance.now()
  const r = await work()
  const seconds = (performance.now() - t0) / 1000
  const used = pids.map((pid, i) => cpuMs(pid) - (before[i] ?? 0))
  const machineAfter = machineTicks()
  const busyTicks = machineAfter.busy - machineBefore.busy
  const calls = Math.max(1, r.rate * seconds)
  const sum = (xs: number[]): number => xs.filter((x) => !Number.isNaN(x)).reduce((a, x) => a + x, 0)
  return {
    ...r,
    hubCpuMsPerOp: sum(used.slice(0, procs.length)) / calls,
    pgCpuMsPerOp: sum(used.slice(procs.length)) / calls,
    machineBusy: busyTicks / Math.max(1, machineAfter.total - machineBefore.total),
    machineCpuMsPerOp: (busyTicks * 10) / calls,
  }
}

/** Clock ticks (10 ms) of all cores since boot from /proc/stat's `cpu` line: busy (all but idle and iowait) and total; NaN where /proc is not there. */
function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
    // user nice system idle iowait irq softirq steal (guest time is counted in user already).
    const t = line.trim().split(/\s+/).slice(1, 9).map(Number)
    const total = t.reduce((a, x) => a + x, 0)
    return { busy: total - (t[3] ?? 0) - (t[4] ?? 0), total }
  } catch {
    return { busy: NaN, total: NaN }
  }
}

/** utime + stime of a process, ms (Linux clock ticks are 10 ms); NaN where /proc is not there. */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}
