/**
 * `voltway hub vehicle|station add|passwd|remove` on a hub whose broker is an
 * external Mosquitto: what the CLI says must be what happens. Without hub.json
 * `mqtt.mosquitto` nothing reaches Mosquitto (its files come from `voltway hub
 * acl`, from hub.json's accounts only), and Mosquitto keeps connections it
 * accepted: the CLI says what the operator must do, and promises no closing.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { runAclCommand, storeOnlyAccountsNote } from '../hub/commands/acl.js'
import { hubConfig, tempDir } from './helpers/hub.js'
import { runCli } from './helpers/station-agent.js'

const HUB = { username: 'hub.feira', password: 'hub-secret' }

function hubJsonFile(mqtt: Record<string, unknown>): string {
  const file = join(tempDir('voltway-hubjson-'), 'hub.json')
  writeFileSync(file, JSON.stringify(hubConfig({ mqtt: { url: 'mqtt://127.0.0.1:1883', ...HUB, ...mqtt } as never })))
  return file
}

t.test('external Mosquitto without mqtt.mosquitto: add, passwd and remove say what the operator must do, and promise no closed connection', async (t) => {
  const file = hubJsonFile({})
  const cli = (args: string[], input?: string) => runCli(['hub', ...args, '--config', file], 30_000, input)

  const add = await cli(['vehicle', 'add', '--id', 'bea'])
  t.equal(add.code, 0, add.stderr)
  t.match(add.stdout, /^[A-Za-z0-9_-]{43}\n$/, 'stdout is the generated password only')
  t.match(add.stderr, /^added vehicle bea\nvehicle bea cannot log in yet: .*hub\.json has no mqtt\.mosquitto.*\. Either set hub\.json mqtt\.mosquitto .*restart the hub, and set the password once more \(voltway hub vehicle passwd --config .* --id bea\).*; or list bea with its password in hub\.json vehicles, run voltway hub acl --config .* --out DIR .*again and reload Mosquitto \(SIGHUP\)\ngenerated password \(shown once\):\n$/)
  // Why "run hub acl again" alone is not the advice: it writes hub.json's accounts only, and says so.
  runAclCommand({ config: file, out: join(tempDir('voltway-acl-'), 'out') })
  t.match(await storeOnlyAccountsNote(file), /Not written: 1 account\(s\) .*\(bea\)/, '`hub acl` cannot write bea')

  const passwdOwn = await cli(['vehicle', 'passwd', '--id', 'bea', '--password-stdin'], 'bea-pass\n')
  t.equal(passwdOwn.code, 0, passwdOwn.stderr)
  t.match(passwdOwn.stderr, /^password of vehicle bea changed\nvehicle bea still cannot log in: .*To let it: set hub\.json mqtt\.mosquitto/)
  t.notMatch(passwdOwn.stderr, /connections are closed/)

  // V1 is in hub.json; a hub's start would seed it into the database (none runs here).
  t.equal((await cli(['vehicle', 'add', '--id', 'V1', '--password-stdin'], 'v1-pass\n')).code, 0)
  const passwdListed = await cli(['vehicle', 'passwd', '--id', 'V1', '--password-stdin'], 'v1-new\n')
  t.equal(passwdListed.code, 0, passwdListed.stderr)
  t.match(passwdListed.stderr, /^password of vehicle V1 changed\nMosquitto still takes the old password: .*or change V1's password in hub\.json vehicles, run voltway hub acl --config .* again and reload Mosquitto/)

  const removeListed = await cli(['vehicle', 'remove', '--id', 'V1'])
  t.equal(removeListed.code, 0, removeListed.stderr)
  t.match(removeListed.stdout, /^removed vehicle V1\nMosquitto still lets V1 log in: .*Remove V1 from hub\.json vehicles .*run voltway hub acl --config .* again and reload Mosquitto \(SIGHUP\); connections Mosquitto accepted before stay open until it restarts/)
  t.notMatch(removeListed.stdout, /closes its connections within a second/, 'no promise Mosquitto cannot keep')

  const removeOwn = await cli(['vehicle', 'remove', '--id', 'bea'])
  t.equal(removeOwn.code, 0, removeOwn.stderr)
  t.match(removeOwn.stdout, /^removed vehicle bea\nMosquitto never had its login/)

  const station = await cli(['station', 'add', '--id', 'FSA-9', '--lat', '-12.27', '--lon', '-38.97', '--power-kw', '22', '--price-minor-per-kwh', '73'])
  t.equal(station.code, 0, station.stderr)
  t.match(station.stdout, /voltway station init .*\nstation FSA-9 cannot log in yet: .*voltway hub station passwd --enroll --config .* --id FSA-9/)
})

t.test('external Mosquitto with mqtt.mosquitto: remove and passwd say the hub has Mosquitto reload, and that it keeps accepted connections', async (t) => {
  const dir = tempDir('voltway-mosq-files-')
  const file = hubJsonFile({ mosquitto: { passwordFile: join(dir, 'passwd'), aclFile: join(dir, 'acl'), pidFile: join(dir, 'mosquitto.pid') } })
  const cli = (args: string[], input?: string) => runCli(['hub', ...args, '--config', file], 30_000, input)
  const add = await cli(['vehicle', 'add', '--id', 'bea', '--password-stdin'], 'bea-pass\n')
  t.equal(add.code, 0, add.stderr)
  t.equal(add.stderr, 'added vehicle bea\n', 'the running hub writes it into Mosquitto: nothing to do')
  const passwd = await cli(['vehicle', 'passwd', '--id', 'bea', '--password-stdin'], 'bea-new\n')
  t.match(passwd.stderr, /^password of vehicle bea changed; a running hub rewrites Mosquitto's files and has it reload: the new password is checked at the next login \(Mosquitto keeps connections it accepted before/)
  const remove = await cli(['vehicle', 'remove', '--id', 'bea'])
  t.match(remove.stdout, /^removed vehicle bea; a running hub rewrites Mosquitto's files and has it reload: the login is refused from then on, and connections Mosquitto accepted before can no longer send or receive/)
})
