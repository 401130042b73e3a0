/**
 * The technician's commands: station init, check, service, and start-up
 * errors that say what to check. The logic runs in-process; a few real CLI
 * runs (concurrently: each pays the CLI start-up) prove output and exit codes.
 */
import t from 'tap'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { ConfigError } from '../protocol/index.js'
import { runChecks } from '../station/commands/check.js'
import { buildStationConfig, type InitOptions } from '../station/commands/init.js'
import { systemdUnit } from '../station/commands/service.js'
import { loadStationConfig, StationConfigSchema, type StationConfig } from '../station/config.js'
import { freePort } from './helpers/net.js'
import { RestartableBroker, runCli, stationConfig, tempDir, writeStationConfig } from './helpers/station-agent.js'

function withBadSerial(base: StationConfig): StationConfig {
  return {
    ...base,
    hardware: { ...base.hardware, board: { type: 'firmata', path: '/dev/ttyVOLTWAY-missing', baudRate: 57600 }, meter: { type: 's0', pin: 2, pulsesPerKwh: 1000 } },
  }
}

t.test('station init builds a station.json that validates, for the mock board and for real hardware', async (t) => {
  const { config } = buildStationConfig({ id: 'S1', hub: 'mqtt://hub.example:1883', hubId: 'feira', password: 'pw-1' })
  t.match(StationConfigSchema.parse(config), { stationId: 'S1', hubId: 'feira', mqtt: { url: 'mqtt://hub.example:1883', password: 'pw-1' }, hardware: { board: { type: 'mock' } } })
  const real = buildStationConfig({
    id: 'FSA-2', hub: 'mqtts://hub:8883', board: 'firmata', serial: '/dev/ttyACM0', meter: 'modbus-rtu', meterSerial: '/dev/ttyUSB0', meterModel: 'sdm630', unitId: '3',
  })
  t.match(StationConfigSchema.parse(real.config).hardware, { board: { type: 'firmata', path: '/dev/ttyACM0' }, meter: { type: 'modbus-rtu', model: 'SDM630', unitId: 3 } })
  t.equal(real.generatedPassword, true)
  t.ok(real.config.mqtt.password.length >= 20)
  const s0 = buildStationConfig({ id: 'S3', hub: 'mqtt://h:1883', board: 'firmata', serial: '/dev/ttyACM0', meter: 's0', s0Pin: '3', pulsesPerKwh: '1000' })
  t.match(s0.config.hardware.meter, { type: 's0', pin: 3, pulsesPerKwh: 1000 })
})

t.test('station init refuses a bad id, a missing serial path and an unknown meter model, saying what to check', async (t) => {
  t.throws(() => buildStationConfig({ id: 'bad id', hub: 'mqtt://h:1883' }), new ConfigError('station init: --id: expected an id matching ^[A-Za-z0-9_-]{1,64}$ (station.json stationId)'))
  t.throws(() => buildStationConfig({ id: 'S1', hub: 'mqtt://h:1883', board: 'firmata' }), { name: 'ConfigError', message: /--serial/ })
  t.throws(() => buildStationConfig({ id: 'S1', hub: 'mqtt://h:1883', meter: 'modbus-rtu', meterSerial: '/dev/ttyUSB0', meterModel: 'XYZ9' }), {
    name: 'ConfigError',
    message: /XYZ9.*SDM120, SDM230, SDM630$/,
  })
  t.throws(() => buildStationConfig({ id: 'S1', hub: 'http://h' }), { name: 'ConfigError', message: /mqtt\.url/ })
})

t.test('station init names a refused value by the flag the technician typed, in the words of every other message', async (t) => {
  const refused: Array<[Partial<InitOptions>, string]> = [
    [{ hub: 'hub.example:1883' }, 'station init: --hub: expected an mqtt:// or mqtts:// URL (station.json mqtt.url)'],
    [{ hubId: 'feira charging' }, 'station init: --hub-id: expected an id matching ^[A-Za-z0-9_-]{1,64}$ (station.json hubId)'],
    [{ relayType: 'open' }, 'station init: --relay-type: expected one of "NO", "NC" (station.json hardware.relay.type)'],
    [{ offlineMinutes: '-3' }, 'station init: --offline-minutes: must be >= 0 (station.json offline.maxChargeMinutes)'],
    [{ board: 'firmata', serial: '/dev/ttyACM0', meter: 'modbus-rtu', meterSerial: '/dev/ttyUSB0', unitId: '300' }, 'station init: --unit-id: must be <= 247 (station.json hardware.meter.unitId)'],
    [{ board: 'firmata', serial: '/dev/ttyACM0', meter: 'modbus-rtu', meterSerial: '/dev/ttyUSB0', meterModel: 'SDM999' }, 'station init: --meter-model: unknown meter model "SDM999"; known models: SDM120, SDM230, SDM630'],
  ]
  for (const [flags, message] of refused) t.throws(() => buildStationConfig({ id: 'S1', hub: 'mqtt://h:1883', ...flags }), new ConfigError(message), message)
})

t.test('station check on a mock board with a reachable hub passes every step; the relay moves only with toggleRelay', async (t) => {
  const broker = new RestartableBroker()
  await broker.start()
  t.teardown(() => broker.stop())
  const dir = tempDir()
  const cfg = stationConfig({ url: broker.url, dataDir: join(dir, 'data') })
  const steps = await runChecks(cfg, { toggleRelay: true })
  t.same(steps.filter((s) => !s.ok), [], 'no failed step')
  t.same(steps.map((s) => s.step), ['config', 'dataDir', 'board', 'relay', 'relay toggle', 'meter read 1', 'meter read 2', 'serial ports', 'hub'])
  const quiet = await runChecks(cfg)
  t.notOk(quiet.some((s) => s.step === 'relay toggle'))
})

t.test('station check toggles the heartbeat pin of hardware.watchdog for one period and reports the edges', async (t) => {
  const broker = new RestartableBroker()
  await broker.start()
  t.teardown(() => broker.stop())
  const base = stationConfig({ url: broker.url, dataDir: join(tempDir(), 'data') })
  const cfg = { ...base, hardware: { ...base.hardware, watchdog: { pin: 8, periodMs: 400 } } }
  const steps = await runChecks(cfg)
  t.match(steps.find((s) => s.step === 'heartbeat pin'), { ok: true, detail: /^pin 8 toggled [4-9] times in 400 ms/ })
  const bad = { ...base, hardware: { ...base.hardware, watchdog: { pin: 99, periodMs: 400 } } }
  t.match((await runChecks(bad)).find((s) => s.step === 'board'), { ok: false, detail: /HW_BAD_PIN/ }, 'a pin the board lacks fails with HW_BAD_PIN')
})

t.test('station check fails its dataDir step where the agent could not start (it passed every step before)', async (t) => {
  const dir = tempDir()
  writeFileSync(join(dir, 'a-file'), '')
  const steps = await runChecks(stationConfig({ url: 'mqtt://127.0.0.1:1', dataDir: join(dir, 'a-file', 'data') }), { hubTimeoutMs: 200 })
  t.match(steps.find((s) => s.step === 'dataDir'), { ok: false, detail: /dataDir ".*a-file\/data": cannot create the directory \(ENOTDIR\)/, hint: /Set dataDir in station\.json/ })
})

t.test('station check with a bad serial path or an unreachable hub fails with a hint', async (t) => {
  const port = await freePort() // nothing listens there
  const cfg = withBadSerial(stationConfig({ url: `mqtt://127.0.0.1:${port}`, dataDir: join(tempDir(), 'data') }))
  const steps = await runChecks(cfg)
  t.match(steps.find((s) => s.step === 'board'), { ok: false, detail: /HW_SERIAL_NOT_FOUND.*ttyVOLTWAY-missing/, hint: /No serial device at that path/ })
  t.match(steps.find((s) => s.step === 'hub'), { ok: false, detail: /ECONNREFUSED|closed|no answer/, hint: /mqtt\.url/ })
})

t.test('station service prints a hardened systemd unit with a non-root user and systemd\'s watchdog (Type=notify, WatchdogSec), and refuses root', async (t) => {
  const dir = tempDir()
  const file = writeStationConfig(dir, stationConfig({ url: 'mqtt://hub:1883', dataDir: './data/S1' }))
  const unit = systemdUnit(loadStationConfig(file), { configFile: file, user: 'charger' })
  t.match(unit, /^User=charger$/m)
  t.match(unit, /^Restart=always$/m)
  t.match(unit, /^Type=notify$/m, 'the agent tells systemd when it is ready')
  t.match(unit, /^NotifyAccess=all$/m, 'systemd-notify runs as a child of the agent')
  t.match(unit, /^WatchdogSec=20$/m, 'a hung agent is restarted')
  t.match(systemdUnit(loadStationConfig(file), { configFile: file, watchdogSec: 8 }), /^WatchdogSec=8$/m)
  t.throws(() => systemdUnit(loadStationConfig(file), { configFile: file, watchdogSec: 1 }), { name: 'ConfigError', message: /watchdog-sec/ })
  t.match(unit, /^NoNewPrivileges=true$/m)
  t.match(unit, /^ProtectSystem=strict$/m)
  t.match(unit, new RegExp(`^ReadWritePaths=${join(dir, 'data/S1')}$`, 'm'), 'dataDir, resolved against the config file')
  t.match(unit, /^SupplementaryGroups=dialout$/m)
  t.match(unit, new RegExp(`^WorkingDirectory=${dir}$`, 'm'))
  t.match(unit, new RegExp(`^ExecStart=${process.execPath} .*station --config ${file}$`, 'm'), 'absolute node, voltway and config paths')
  t.throws(() => systemdUnit(loadStationConfig(file), { configFile: file, user: 'root' }), { name: 'ConfigError', message: /root/ })
})

t.test('the real CLI: init, check, service and a wrong serial path, with their exit codes', async (t) => {
  const broker = new RestartableBroker()
  await broker.start()
  t.teardown(() => broker.stop())
  const dir = tempDir()
  const good = writeStationConfig(dir, stationConfig({ url: broker.url, dataDir: join(dir, 'data') }))
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, JSON.stringify(withBadSerial(stationConfig({ url: 'mqtt://127.0.0.1:1', dataDir: join(dir, 'data2') }))))
  const [init, check, checkBad, run, service, root] = await Promise.all([
    runCli(['station', 'init', '--id', 'S1', '--hub', 'mqtt://hub.example:1883']),
    runCli(['station', 'check', '--config', good, '--toggle-relay', '--json']),
    runCli(['station', 'check', '--config', bad]),
    runCli(['station', '--config', bad]),
    runCli(['station', 'service', '--config', good]),
    runCli(['station', 'service', '--config', good, '--user', 'root']),
  ])
  t.equal(init.code, 0, init.stderr)
  t.ok(StationConfigSchema.safeParse(JSON.parse(init.stdout)).success, 'init output validates')
  t.match(init.stderr, /generated a new MQTT password/)

  t.equal(check.code, 0, check.stdout + check.stderr)
  t.match(JSON.parse(check.stdout), { ok: true })

  t.equal(checkBad.code, 1)
  t.match(checkBad.stdout, /FAIL\s+board\s+HW_SERIAL_NOT_FOUND[^\n]*\n\s+hint: No serial device at that path/)

  t.equal(run.code, 1, 'a wrong serial path stops the agent')
  const lines = run.stderr.trim().split('\n')
  t.equal(lines.length, 1, run.stderr)
  t.match(lines[0], /^error HW_SERIAL_NOT_FOUND: .*ttyVOLTWAY-missing.*Check: /)

  t.equal(service.code, 0)
  t.match(service.stdout, /^User=voltway$/m, 'default user voltway, not root')
  t.equal(root.code, 2)
  t.match(root.stderr, /must not run as root/)
})

// Before, a dataDir under /proc made the agent hang at start (Node's recursive mkdir retries ENOENT there
// forever), and one under a file stopped it with a bare ENOTDIR stack trace.
t.test('a dataDir the agent cannot create stops it with exit 2, the file and the field named', async (t) => {
  const dir = tempDir()
  writeFileSync(join(dir, 'a-file'), '')
  const cases: Array<[string, string]> = [[join(dir, 'a-file', 'data'), 'cannot create the directory \\(ENOTDIR\\)'], [join(dir, 'a-file'), 'exists and is not a directory']]
  // /proc/self exists but takes no file: it failed at the first write, with a bare ENOENT.
  if (process.platform === 'linux') cases.push(['/proc/voltway-typo', 'cannot create the directory \\(ENOENT\\)'], ['/proc/self', 'cannot write in the directory \\(ENOENT\\)'])
  for (const [i, [dataDir, why]] of cases.entries()) {
    const file = join(dir, `station-${i}.json`)
    writeFileSync(file, JSON.stringify(stationConfig({ url: 'mqtt://127.0.0.1:1', dataDir })))
    const run = await runCli(['station', '--config', file])
    t.equal(run.code, 2, run.stderr)
    t.match(run.stderr.trim(), new RegExp(`^${file}: dataDir "${dataDir}": ${why}; check that the directory exists`), run.stderr)
  }
})

t.test('an outbox file the agent cannot open (a FIFO in its place) stops it with exit 2 naming dataDir and the file, not "disk I/O error"', async (t) => {
  const dir = tempDir()
  const dataDir = join(dir, 'data')
  mkdirSync(dataDir)
  execFileSync('mkfifo', [join(dataDir, 'station.sqlite')])
  const file = join(dir, 'station.json')
  writeFileSync(file, JSON.stringify(stationConfig({ url: 'mqtt://127.0.0.1:1', dataDir })))
  const run = await runCli(['station', '--config', file])
  t.equal(run.code, 2, run.stderr)
  t.match(run.stderr.trim(), new RegExp(`^${file}: dataDir "${dataDir}": cannot open ${join(dataDir, 'station.sqlite')} \\(.+\\); check that it is the agent's own SQLite file`), run.stderr)
})

t.test("the technician guide's station init example prints the station.json the guide shows", async (t) => {
  const guide = readFileSync(join(import.meta.dirname, '..', 'docs', 'technician-guide.md'), 'utf8')
  const shown = /The printed file for the example above:\n\n```json\n([\s\S]*?)\n```/.exec(guide)?.[1]
  if (shown === undefined) throw new Error('no printed file in the guide')
  const { config } = buildStationConfig({
    id: 'FSA-1', hub: 'mqtt://hub.example:1883', hubId: 'feira', password: 's3cret-1', dataDir: '/var/lib/voltway/FSA-1',
    board: 'firmata', serial: '/dev/ttyACM0', relayPin: '7', relayType: 'NO',
    meter: 'modbus-rtu', meterSerial: '/dev/ttyUSB0', meterModel: 'SDM630', unitId: '1', meterBaud: '9600',
  })
  t.same(JSON.parse(shown), config, 'every field init writes, defaults included')
})
