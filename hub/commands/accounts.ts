/**
 * `voltway hub vehicle add|list|remove|passwd` and `voltway hub station
 * add|list|remove|passwd`: change the accounts in the hub's store directly
 * (hub.json's `store`: the SQLite file in `dataDir`, or the PostgreSQL
 * database the replicas share), whether the hub runs or not. A
 * running hub sees the change within its poll (300 ms) and closes the
 * connections of a removed or re-passworded login (with hub.json
 * `mqtt.mosquitto`, it rewrites the external Mosquitto's files and has it
 * reload them instead). Run it as the user the hub runs as (it writes the
 * hub's database).
 */
import { readFileSync } from 'node:fs'
import { systemClock } from '../../base/clock.js'
import { ConfigError, Id, Password, StationSpecBody, formatIssues, formatPricePerKwh } from '../../protocol/index.js'
import type { AccountSummary } from '../../protocol/index.js'
import { AccountService } from '../accounts/service.js'
import { mosquittoPasswordHash } from '../broker/mosquitto-acl.js'
import { loadHubConfig, type HubConfig } from '../config.js'
import { openHubStore, type AccountKind } from '../store/index.js'

export interface AccountCommand {
  config: string
  kind: AccountKind
  action: 'add' | 'list' | 'remove' | 'passwd'
  id?: string
  passwordStdin?: boolean
  /** `station passwd --enroll`: a new enrollment code instead of a password. */
  enroll?: boolean
  lat?: string
  lon?: string
  powerKw?: string
  priceMinorPerKwh?: string
}

/**
 * The password on stdin: everything read, without one trailing newline.
 * `command`: the command run (`hub station passwd`), named in the example of the error.
 */
export function readPasswordStdin(command: string, text: string = readFileSync(0, 'utf8')): string {
  const pw = text.replace(/\r?\n$/, '')
  const r = Password.safeParse(pw)
  if (!r.success) throw new ConfigError(`--password-stdin: expected a password of 1 to 256 characters on stdin (printf '%s' "$PW" | voltway ${command} ...)`)
  return pw
}

/** Flags of one command that exclude each other: ConfigError (exit 2) naming both, before anything is read or changed. */
function assertExclusive(cmd: AccountCommand): void {
  if (cmd.passwordStdin && cmd.enroll) {
    throw new ConfigError(
      `voltway hub ${cmd.kind} ${cmd.action}: --password-stdin and --enroll exclude each other: give one (--password-stdin sets the password read from stdin; --enroll prints a new enrollment code and the station sets its own password)`,
    )
  }
}

function idOf(cmd: AccountCommand): string {
  const r = Id.safeParse(cmd.id)
  if (!r.success) throw new ConfigError(`voltway hub ${cmd.kind} ${cmd.action}: --id: expected an id matching ^[A-Za-z0-9_-]{1,64}$${cmd.id === undefined ? ' (missing)' : `, got "${cmd.id}"`}`)
  return r.data
}

function table(rows: AccountSummary[], currency: string): string {
  if (rows.length === 0) return 'no accounts\n'
  return `${rows
    .map((a) => {
      const s = a.station ? `  ${a.station.position.lat},${a.station.position.lon}  ${a.station.powerKw} kW  ${formatPricePerKwh(a.station.priceMinorPerKwh, currency)}` : ''
      return `${a.id}  ${a.hasPassword ? 'password set' : 'waiting for enrollment'}  updated ${a.updatedAt}${s}`
    })
    .join('\n')}\n`
}

/** `voltway station init` line a technician runs on the board. */
function initLine(config: HubConfig, stationId: string, code: string): string {
  const mqtt = 'listen' in config.mqtt ? `${config.mqtt.listen.tls ? 'mqtts' : 'mqtt'}://${config.mqtt.listen.host}:${config.mqtt.listen.port}` : config.mqtt.url
  const http = `${config.http.tls ? 'https' : 'http'}://${config.http.host}:${config.http.port}`
  // Over TLS the board needs the CA that signed the hub's certificates (the operator's file: its name is not known here).
  const ca = /^(mqtts|wss):/.test(mqtt) || config.http.tls ? ' --ca CA_FILE' : ''
  return `voltway station init --id ${stationId} --hub ${mqtt} --hub-http ${http} --hub-id ${config.hubId}${ca} --enroll ${code} > station.json`
}

/** Run one account command; resolves what to print on stdout. Throws ConfigError (usage) or VoltwayError (refused). */
export async function runAccountCommand(cmd: AccountCommand): Promise<string> {
  assertExclusive(cmd)
  const config = loadHubConfig(cmd.config)
  const password = cmd.passwordStdin ? readPasswordStdin(`hub ${cmd.kind} ${cmd.action}`) : undefined
  let spec: ReturnType<typeof StationSpecBody.parse> | undefined
  if (cmd.kind === 'station' && cmd.action === 'add') {
    const r = StationSpecBody.safeParse({ position: { lat: Number(cmd.lat), lon: Number(cmd.lon) }, powerKw: Number(cmd.powerKw), priceMinorPerKwh: Number(cmd.priceMinorPerKwh) }, { reportInput: true })
    if (!r.success) throw new ConfigError(formatIssues('voltway hub station add', r.error))
    spec = r.data
  }
  const id = cmd.action === 'list' ? '' : idOf(cmd)
  const store = await openHubStore(config.store, config.dataDir)
  try {
    // With an external Mosquitto the password is also hashed as Mosquitto checks it; the running hub writes it into Mosquitto's files.
    const external = 'url' in config.mqtt && config.mqtt.mosquitto !== undefined
    const svc = new AccountService({ store: store.accounts, clock: systemClock, hubId: config.hubId, ...(external ? { brokerHash: (pw: string) => mosquittoPasswordHash(pw) } : {}) })
    switch (cmd.action) {
      case 'list':
        return table(await svc.list(cmd.kind), config.currency)
      case 'remove':
        await svc.remove(cmd.kind, id)
        return `removed ${cmd.kind} ${id}; a running hub closes its connections within a second\n`
      case 'add':
        if (spec) {
          const issued = await svc.addStation(id, spec)
          return `added station ${id}; enrollment code (once, until ${issued.expiresAt}):\n${issued.code}\non the station's board run:\n  ${initLine(config, id, issued.code)}\n`
        }
        return answer(await svc.addVehicle(id, password), `added vehicle ${id}`)
      case 'passwd':
        if (cmd.kind === 'station' && cmd.enroll) {
          const issued = await svc.issueEnrollment(id)
          return `new enrollment code for ${id} (once, until ${issued.expiresAt}; the previous one no longer works):\n${issued.code}\n  ${initLine(config, id, issued.code)}\n`
        }
        return answer(await svc.setPassword(cmd.kind, id, password), `password of ${cmd.kind} ${id} changed; its live connections are closed`)
    }
  } finally {
    await store.close()
  }
}

/** A generated password is the only line on stdout (scripts capture it); the note goes to stderr. */
function answer(r: { id: string; password?: string }, note: string): string {
  process.stderr.write(`${note}${r.password === undefined ? '' : '; generated password (shown once):'}\n`)
  return r.password === undefined ? '' : `${r.password}\n`
}
