/** One style for what users read: money, energy, times, hop paths, --help, the demo banner, and how `npm test` reports. */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command } from 'commander'
import t from 'tap'
import { markRequired } from '../cli-help.js'
import { filesLine } from '../demo/run.js'
import { registerDemoCommand } from '../demo/register.js'
import { registerHubCommands } from '../hub/commands/register.js'
import { ARROW, formatEnergy, formatLocalTime, formatMoney, formatPricePerKwh } from '../protocol/index.js'
import { registerStationCommands } from '../station/commands/register.js'
import { registerVehicleCommands } from '../vehicle-sim/commands/register.js'

const ROOT = join(import.meta.dirname, '..')

t.test('money, energy and hop paths read one way: 1.89 BRL/kWh, 0.516 kWh, a -> b', async (t) => {
  t.equal(formatPricePerKwh(189, 'BRL'), '1.89 BRL/kWh')
  t.equal(formatMoney(98, 'BRL'), '0.98 BRL')
  t.equal(formatMoney(1234, 'JPY'), '1234 JPY')
  t.equal(formatEnergy(516), '0.516 kWh')
  t.equal(['feira', 'salvador'].join(ARROW), 'feira -> salvador')
})

t.test('a time is local, with its offset, and always to the second', async (t) => {
  const zone = process.env.TZ
  process.env.TZ = 'America/Bahia'
  t.teardown(() => {
    if (zone === undefined) delete process.env.TZ
    else process.env.TZ = zone
  })
  t.equal(formatLocalTime('2026-11-24T18:00:00Z'), '2026-11-24 15:00:00 (UTC-03:00)', 'whole minutes still show seconds, so a table never mixes precisions')
  t.equal(formatLocalTime('2026-11-24T18:01:22Z'), '2026-11-24 15:01:22 (UTC-03:00)')
})

t.test('the demo and the CLI format through the one module: no local currency, locale dates or other arrows', async (t) => {
  for (const file of ['demo/story.ts', 'demo/run.ts', 'vehicle-sim/output.ts', 'vehicle-sim/commands/routes.ts', 'vehicle-sim/commands/charge.ts']) {
    const src = readFileSync(join(ROOT, file), 'utf8')
    t.notMatch(src, /R\$|toLocale(String|DateString|TimeString)|[→×]/, file)
  }
})

function allCommands(): Command[] {
  const program = new Command('voltway').configureHelp({ optionDescription: markRequired })
  registerHubCommands(program)
  registerStationCommands(program)
  registerVehicleCommands(program, { exit: () => process.exit(2) as never })
  registerDemoCommand(program)
  const out: Command[] = []
  const walk = (c: Command): void => {
    out.push(c)
    for (const s of c.commands) walk(s)
  }
  walk(program)
  return out
}

const escape = (x: string): string => x.replace(/[.*+?^${}()|[\]\\<>]/g, '\\$&')

t.test('--help marks every required option and writes every default one way: (default: 18800), (default: info; env VOLTWAY_LOG_LEVEL)', async (t) => {
  for (const cmd of allCommands()) {
    const help = cmd.helpInformation().replace(/\s+/g, ' ')
    const name = cmd.name()
    for (const o of cmd.options) {
      const line = new RegExp(`${escape(o.flags)} (.*?)(?= -{1,2}[a-zA-Z]|$)`).exec(help)?.[1] ?? ''
      // commander's own required options, and those the commands check themselves with their own message (exit 2).
      const required = o.mandatory || o.attributeName() === 'config' || (name === 'reserve' && o.attributeName() === 'at')
      t.equal(/\(required\)$/.test(line), required, `${name} ${o.flags}: ${required ? 'marked' : 'not marked'} (required): ${line}`)
      if ((o.required || o.optional) && o.defaultValue !== undefined) t.match(line, `(default: ${String(o.defaultValue)})`, `${name} ${o.flags}: its default, unquoted`)
    }
    const defaults = help.match(/default/gi) ?? []
    const styled = help.match(/\(default: [^"()]+?(; env VOLTWAY_[A-Z_]+)?\)/g) ?? []
    t.equal(styled.length, defaults.length, `${name}: every default reads (default: X): ${defaults.length === styled.length ? '' : help}`)
    const envs = help.match(/VOLTWAY_[A-Z_]+/g) ?? []
    const envStyled = help.match(/(\(|; )env VOLTWAY_[A-Z_]+\)/g) ?? []
    t.equal(envStyled.length, envs.length, `${name}: every environment variable reads (env VOLTWAY_X) or (default: x; env VOLTWAY_X)`)
  }
})

t.test('a missing --config reads one way, with the usage of the command that needs it, exit 2', async (t) => {
  for (const args of [['hub'], ['hub', 'acl', '--out', 'x'], ['station'], ['station', 'check'], ['station', 'service']]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli.ts', ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 })
    const label = `voltway ${args.join(' ')}`
    t.equal(r.status, 2, `${label}: exit 2`)
    t.equal(r.stderr.split('\n')[0], "error: required option '-c, --config <file>' not specified", `${label}: commander's line`)
    t.match(r.stderr, `Usage: voltway ${args.filter((a) => !a.startsWith('-') && a !== 'x').join(' ')} [options]`, `${label}: its own usage, not its parent's`)
  }
})

t.test('the --keep-running banner says where the files are and whether Ctrl-C deletes them', async (t) => {
  t.match(filesLine('/tmp/voltway-demo-x', 12, '/tmp/voltway-demo-x/demo.log', false), /a temporary folder that Ctrl-C deletes .*\(add --dir DIR to keep them\)/)
  t.match(filesLine('/srv/demo', 12, '/srv/demo/demo.log', true), /They stay after Ctrl-C/)
})

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; tap: { reporter?: string }; engines: { node: string } }

t.test('npm test says which phase runs, prints a line per test file, failures in full, and a closing count', async (t) => {
  const test = pkg.scripts.test ?? ''
  for (const p of ['typecheck', 'lint', 'tap']) t.match(test, new RegExp(`echo 'test: ${p}`), `announces ${p}`)
  t.equal(pkg.tap.reporter, './scripts/tap-reporter.mjs', 'the log reporter, not raw TAP or a redrawing terminal reporter')
  const { default: LogReporter } = await import('../scripts/tap-reporter.mjs')
  const tapText = [
    'TAP version 14',
    '# Subtest: test/a.test.ts',
    '    # Subtest: a rule that holds',
    ...Array.from({ length: 500 }, (_, i) => `        ok ${i + 1} - check ${i}`),
    '        1..500',
    '    ok 1 - a rule that holds',
    '    1..1',
    'ok 1 - test/a.test.ts # time=12.5ms',
    '# Subtest: test/b.test.ts',
    '    not ok 1 - one is two',
    '      ---',
    '      diff: |',
    '        -2',
    '        +1',
    '      ...',
    '    1..1',
    'not ok 2 - test/b.test.ts # time=3ms',
    '1..2',
    '',
  ].join('\n')
  const reporter = new LogReporter()
  const chunks: string[] = []
  reporter.on('data', (c: Buffer | string) => chunks.push(String(c)))
  const done = new Promise((r) => reporter.on('end', r))
  reporter.end(tapText)
  await done
  const lines = chunks.join('').trimEnd().split('\n')
  t.ok(lines.length < 15, `500 passing checks make one line, not 500 (${lines.length} lines)`)
  t.match(lines[0], /^ok {4}test\/a\.test\.ts/, 'one line for the passing file')
  t.ok(lines.some((l) => /^FAIL {2}test\/b\.test\.ts/.test(l)), 'the failing file is named')
  t.ok(lines.some((l) => l.includes('not ok - test/b.test.ts > one is two')), 'the failing assertion with its full name')
  t.ok(lines.some((l) => l.trim() === '+1'), 'its diagnostics in full')
  t.equal(lines.at(-1), 'assertions: 500 passed, 1 failed', 'the closing count')
})

t.test("docs/vehicle-simulator.md's command table names flags each command has, and a default only where --help shows it", async (t) => {
  const doc = readFileSync(join(ROOT, 'docs/vehicle-simulator.md'), 'utf8')
  const vehicle = allCommands().find((c) => c.name() === 'vehicle' && c.parent?.name() === 'voltway')
  if (!vehicle) throw new Error('no vehicle command')
  const rows = [...doc.matchAll(/^\| `([a-z-]+)[^`]*` \| [^|]* \| (.*) \|$/gm)]
  t.ok(rows.length >= 10, `the table has a row per one-shot command (${rows.length})`)
  for (const [, name, flags] of rows) {
    const cmd = vehicle.commands.find((c) => c.name() === name)
    if (!cmd) {
      t.fail(`${name}: no such vehicle command`)
      continue
    }
    const help = cmd.helpInformation().replace(/\s+/g, ' ')
    for (const [, flag, rest] of (flags ?? '').matchAll(/`(--[a-z-]+)`( \(default [^)]+\))?/g)) {
      t.ok(cmd.options.some((o) => o.long === flag), `${name} ${flag}: an option of the command`)
      const claimed = /\(default (.+)\)/.exec(rest ?? '')?.[1]
      if (claimed !== undefined) t.match(help, `(default: ${claimed})`, `${name} ${flag}: the doc's default ${claimed} is the CLI's`)
    }
  }
})
