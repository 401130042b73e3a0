/**
 * `npm run bench`: run every benchmark in bench/, each in its own process
 * with `--json`, and print one table. `--write` also stores the table with
 * the machine it ran on in docs/benchmarks.md.
 * Run: node --import tsx bench/run.ts [--only name,name] [--write]
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Table from 'cli-table3'
import { fmt, type BenchRow } from './report.js'

const ROOT = join(import.meta.dirname, '..')

/** Every benchmark, with the arguments `npm run bench` gives it (kept short enough for a shared 2-core machine). */
const BENCHES: Array<{ name: string; file: string; args: string[] }> = [
  { name: 'nearest', file: 'bench/nearest.ts', args: ['--stations', '100000', '--queries', '5000'] },
  { name: 'hub-mqtt', file: 'bench/hub-mqtt.ts', args: ['--stations', '10000'] },
  { name: 'connection-baseline', file: 'bench/connection-baseline.ts', args: ['--seconds', '2'] },
  { name: 'station-agent', file: 'bench/station-agent.ts', args: ['--runs', '3'] },
  { name: 'trips', file: 'bench/trips.ts', args: [] },
  { name: 'replicas', file: 'bench/replicas.ts', args: ['--seconds', '4', '--passes', '2'] },
  { name: 'vehicle-fleet', file: 'bench/vehicle-fleet.ts', args: ['5000', '20', '--real-hub'] },
  { name: 'ui', file: 'bench/ui.ts', args: ['--stations', '1000', '--sessions', '100', '--seconds', '10'] },
]

const { values } = parseArgs({ options: { only: { type: 'string' }, write: { type: 'boolean', default: false } } })
const only = values.only?.split(',').map((s) => s.trim())
const selected = BENCHES.filter((b) => !only || only.includes(b.name))

function runOne(b: (typeof BENCHES)[number]): Promise<BenchRow[]> {
  if (!existsSync(join(ROOT, b.file))) return Promise.resolve([{ bench: b.name, metric: `missing: ${b.file}`, value: NaN, unit: '' }])
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, b.file), ...b.args, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const started = Date.now()
    process.stderr.write(`bench: ${b.name} ...\n`)
    child.once('exit', (code) => {
      process.stderr.write(`bench: ${b.name} done in ${((Date.now() - started) / 1000).toFixed(0)} s (exit ${code})\n`)
      const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{"rows"'))
      try {
        if (!line) throw new Error('no JSON rows')
        resolve((JSON.parse(line) as { rows: BenchRow[] }).rows)
      } catch {
        resolve([{ bench: b.name, metric: `failed (exit ${code}): ${err.trim().split('\n').pop() ?? ''}`.slice(0, 120), value: NaN, unit: '' }])
      }
    })
  })
}

const rows: BenchRow[] = []
// One at a time: benchmarks running side by side would measure each other.
for (const b of selected) rows.push(...(await runOne(b)))

const cell = (r: BenchRow): string[] => [r.bench, r.metric, Number.isNaN(r.value) ? '-' : fmt(r.value), r.unit, r.goal ?? '', r.ok === undefined ? '' : r.ok ? 'yes' : 'NO']
const table = new Table({ head: ['bench', 'metric', 'value', 'unit', 'goal', 'met'], style: { head: [], border: [] } })
for (const r of rows) table.push(cell(r))
process.stdout.write(`${table.toString()}\n`)

if (values.write) {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const machine = `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, ${process.platform}/${process.arch}; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`
  const md = [
    '# Benchmarks',
    '',
    'Produced by `npm run bench -- --write` (bench/run.ts), which runs every script in bench/ one after the other and keeps their rows.',
    'Targets are met as ratios against a baseline measured in the same run wherever the issue gives one, because these machines are shared and noisy; absolute rates are for orientation.',
    '',
    `Ran on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine}.`,
    '',
    '| bench | metric | value | unit | goal | met |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${cell(r).join(' | ')} |`),
    '',
    readNotes(),
  ].join('\n')
  writeFileSync(join(ROOT, 'docs/benchmarks.md'), md)
  process.stderr.write('bench: wrote docs/benchmarks.md\n')
}

/** Keep the hand-written notes below the marker when the table is rewritten. */
function readNotes(): string {
  const file = join(ROOT, 'docs/benchmarks.md')
  const marker = '<!-- notes -->'
  if (!existsSync(file)) return `${marker}\n`
  const text = readFileSync(file, 'utf8')
  const i = text.indexOf(marker)
  return i >= 0 ? text.slice(i) : `${marker}\n`
}
