/**
 * A hub (or a replica) whose external broker refuses or does not answer at
 * start: one line starting with the --config path, naming mqtt.url, the
 * login and what to do; a refused login is a wrong config, exit 2; a broker
 * that does not answer exit 1 (systemd starts the hub again once it is up);
 * never a bare "Connection refused: Not authorized".
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { hubConfig, tempDir } from './helpers/hub.js'
import { mosquittoBinary, startMosquitto } from './helpers/mosquitto.js'
import { freePort } from './helpers/net.js'
import { runCli } from './helpers/station-agent.js'
import { spawnHub } from './helpers/hub-process.js'

const skip = mosquittoBinary() ? false : 'mosquitto is not installed'

function writeHub(url: string): string {
  const dir = tempDir('voltway-broker-start-')
  const file = join(dir, 'hub.json')
  writeFileSync(file, JSON.stringify({ ...hubConfig({ dataDir: join(dir, 'data') }), mqtt: { url, username: 'hub.feira', password: 'hub-pass' } }))
  return file
}

t.test('a replica whose login the broker does not know: UNAUTHORIZED naming the login and `hub acl --replicas`', { skip }, async (t) => {
  const m = await startMosquitto({ config: ['allow_anonymous false', 'password_file $DIR/passwd', ...(process.getuid?.() === 0 ? ['user root'] : [])], files: { passwd: '' } })
  t.teardown(() => m.close())
  const file = writeHub(m.url)
  const r = await runCli(['hub', '--config', file, '--replica', 'r9', '--log-level', 'silent'])
  t.equal(r.code, 2, 'exit 2: a wrong config (the login), which restarting will not fix (RestartPreventExitStatus=2)')
  t.equal(r.stderr.indexOf(`${file}: mqtt.url "mqtt://127.0.0.1:`), 0, `the line starts with the --config path: ${r.stderr}`)
  t.match(r.stderr, /mqtt\.url "mqtt:\/\/127\.0\.0\.1:\d+": the broker refused the login hub\.feira\.r9.*voltway hub acl .*--replicas/, r.stderr)
})

t.test('a broker that does not answer: the line names mqtt.url and says to start the broker', async (t) => {
  const file = writeHub(`mqtt://127.0.0.1:${await freePort()}`)
  const r = await runCli(['hub', '--config', file, '--replica', 'r1', '--log-level', 'silent'])
  t.equal(r.code, 1, 'exit 1: systemd starts it again once the broker is up')
  t.equal(r.stderr.indexOf(`error: ${file}: mqtt.url`), 0, `the line starts with the --config path: ${r.stderr}`)
  t.match(r.stderr, /mqtt\.url "mqtt:\/\/127\.0\.0\.1:\d+": the broker does not answer \(.*ECONNREFUSED.*\); check that it runs/, r.stderr)
})

t.test('SIGTERM while the broker is down: the hub stops at once with exit 0 instead of waiting for the broker', { skip }, async (t) => {
  const m = await startMosquitto()
  let up = true
  t.teardown(() => (up ? m.close() : undefined))
  const hub = await spawnHub(hubConfig({ mqtt: { url: m.url, password: 'hub-pass' } }), tempDir('voltway-broker-gone-'))
  t.teardown(() => hub.kill('SIGKILL'))
  await m.close()
  up = false
  // Wait until the hub has noticed (it tries to reconnect and logs the refusal).
  await new Promise<void>((resolve) => {
    const check = (): void => void (/mqtt client error/.test(hub.output()) && resolve())
    hub.proc.stdout?.on('data', check)
    check()
  })
  const code = await hub.kill('SIGTERM')
  t.equal(code, 0, `exit 0 after SIGTERM with the broker gone\n${hub.output()}`)
})

t.test('the same --replica name started twice: the replica whose session is taken says so at error level, naming the cause', { skip }, async (t) => {
  const m = await startMosquitto()
  t.teardown(() => m.close())
  const cfg = hubConfig({ mqtt: { url: m.url, password: 'hub-pass' } })
  const dir = tempDir('voltway-replica-twice-')
  const first = await spawnHub(cfg, dir, 20_000, { args: ['--replica', 'r1'] })
  t.teardown(() => first.kill('SIGKILL'))
  const second = await spawnHub(cfg, dir, 20_000, { args: ['--replica', 'r1'] })
  t.teardown(() => second.kill('SIGKILL'))
  const said = (h: typeof first): boolean => /"level":50.*takes this hub's session; is --replica r1 running twice\?/.test(h.output())
  await new Promise<void>((resolve) => {
    const check = (): void => void ((said(first) || said(second)) && resolve())
    first.proc.stdout?.on('data', check)
    second.proc.stdout?.on('data', check)
    check()
  })
  t.pass('one of the two logged the taken session with the hint')
})

t.test('a hub started without --replica beside a running replica of the same hub logs an error naming the fix', { skip }, async (t) => {
  const m = await startMosquitto()
  t.teardown(() => m.close())
  const cfg = hubConfig({ mqtt: { url: m.url, password: 'hub-pass' } })
  const dir = tempDir('voltway-replica-and-lone-')
  const replica = await spawnHub(cfg, dir, 20_000, { args: ['--replica', 'r1'] })
  t.teardown(() => replica.kill('SIGKILL'))
  const lone = await spawnHub(cfg, dir)
  t.teardown(() => lone.kill('SIGKILL'))
  await new Promise<void>((resolve) => {
    const check = (): void => void (/"level":50.*replica r1 of hub feira runs on this broker, and this process was started without --replica/.test(lone.output()) && resolve())
    lone.proc.stdout?.on('data', check)
    check()
  })
  t.notMatch(replica.output(), /"level":50/, 'the replica itself logs no error')
  t.match(replica.output(), /"level":40.*replica r1 on SQLite: every replica of this hub must run on this machine with this dataDir/, 'a replica on SQLite warns that it shares one file')
})
