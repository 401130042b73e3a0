/**
 * `voltway hub acl --config hub.json --out DIR`: write the Mosquitto password
 * file, ACL file and mosquitto.conf that make an external broker enforce
 * docs/protocol.md's permission table for this hub's stations and vehicles.
 * The operator's own Mosquitto lines live in DIR/conf.d/ (included last,
 * never written here), so running it again loses none of them.
 */
import { writeFileAtomic } from '../../base/write-file-atomic.js'
import { join, resolve } from 'node:path'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { ConfigError, ID_PATTERN, makeConfiguredDirectory } from '../../protocol/index.js'
import { pino } from 'pino'
import { MosquittoSync } from '../accounts/mosquitto-sync.js'
import { loadHubConfig, type HubConfig } from '../config.js'
import { SchemaTooNewError, openHubStore, storeLabel, type AccountRecord, type Store } from '../store/index.js'
import { SEEDED } from '../broker/password-hash.js'
import { defaultHubUsername, hubUsernameOf, randomPassword, replicaUsername, requestUsername } from '../broker/identities.js'
import { OPERATOR_CONF_DIR, mosquittoAclFile, mosquittoConf, mosquittoPasswordFile, operatorConfLines, type MosquittoAclInput } from '../broker/mosquitto-acl.js'

export interface AclCommandOptions {
  config: string
  out: string
  /** `--replicas r1,r2`: one hub login per replica, `<hub user>.<name>`, instead of the single hub login. */
  replicas?: string
}

/** The names of `--replicas`: ids, comma-separated, each once. Throws ConfigError. */
export function parseReplicaList(list: string): string[] {
  const names = list.split(',').map((n) => n.trim())
  for (const n of names) {
    if (!ID_PATTERN.test(n)) throw new ConfigError(`hub acl: --replicas: "${n}" is not a replica name; use 1 to 64 letters, digits, '_' or '-', separated by commas (e.g. r1,r2)`)
  }
  const dup = names.find((n, i) => names.indexOf(n) !== i)
  if (dup !== undefined) throw new ConfigError(`hub acl: --replicas: "${dup}" is listed twice`)
  return names
}

export interface AclCommandResult {
  files: string[]
  hubUsername: string
  /** True when hub.json had no `mqtt.password` and a new one was written to hub-mqtt.json. */
  generatedHubPassword: boolean
  /** What to tell the operator. */
  text: string
}

/** Write a file readable by its owner only, replacing any old one atomically. */
function writePrivate(file: string, content: string): void {
  writeFileAtomic(file, content, 0o600)
}

/** What each refused scheme would need in mosquitto.conf. */
const NOT_PLAIN: Record<string, string> = {
  'mqtts:': 'a TLS listener (certfile, keyfile)',
  'ws:': 'a websockets listener (protocol websockets)',
  'wss:': 'a websockets listener with TLS (protocol websockets, certfile, keyfile)',
}

/**
 * `mqtt.url` as the plain MQTT listener this command writes: `mqtt://host[:port]`
 * (port 1883 when left out). Any other scheme is a ConfigError: the listener
 * written would not be what the hub connects to.
 */
export function plainMqttUrl(url: string): URL {
  const u = new URL(url)
  if (u.protocol === 'mqtt:') return u
  if (u.protocol === 'tcp:') throw new ConfigError(`hub.json: mqtt.url: ${JSON.stringify(url)} is plain MQTT: write it as mqtt://${u.host} for voltway hub acl`)
  const needs = NOT_PLAIN[u.protocol] ?? `a ${u.protocol.replace(/:$/, '')} listener`
  throw new ConfigError(
    `hub.json: mqtt.url: voltway hub acl writes a plain MQTT listener only, and ${JSON.stringify(url)} needs ${needs}; ` +
      `give an mqtt:// URL, or add those listener lines by hand, in a NAME.conf file in --out's ${OPERATOR_CONF_DIR}/ (docs/operator-guide.md, "External broker: voltway hub acl")`,
  )
}

/**
 * Refuse (ConfigError, before anything is written) to replace a mosquitto.conf
 * that has lines this command did not write: an older `hub acl` told
 * operators to add lines to it by hand. Moving them into conf.d/ ourselves
 * could change what they mean (their place in the file, a second `pid_file`
 * that Mosquitto refuses to start with), so the operator moves them.
 */
function keepOperatorLines(confFile: string, generated: string, confDir: string, pidFile: string | undefined): void {
  let existing: string
  try {
    existing = readFileSync(confFile, 'utf8')
  } catch {
    return // no file yet (or none readable: writing it fails with its own message)
  }
  const lines = operatorConfLines(existing, generated)
  if (lines.length === 0) return
  const shown = lines.slice(0, 5).map((l) => JSON.stringify(l)).join(', ') + (lines.length > 5 ? `, and ${lines.length - 5} more` : '')
  const pidNote = pidFile !== undefined && lines.some((l) => /^pid_file\s/.test(l)) ? ` Delete its pid_file line instead of moving it: the new file sets pid_file ${pidFile} (hub.json mqtt.mosquitto.pidFile), and Mosquitto refuses to start with two.` : ''
  throw new ConfigError(
    `voltway hub acl: ${confFile} has ${lines.length === 1 ? 'a line' : `${lines.length} lines`} this command did not write (${shown}); it was not replaced and nothing was written. ` +
      `Move ${lines.length === 1 ? 'it' : 'them'} into ${join(confDir, 'local.conf')} (Mosquitto reads ${OPERATOR_CONF_DIR}/*.conf after the generated lines, and this command never writes there), delete ${lines.length === 1 ? 'it' : 'them'} from ${confFile}, and run it again.${pidNote}`,
  )
}

export function runAclCommand(opts: AclCommandOptions): AclCommandResult {
  const replicas = opts.replicas === undefined ? null : parseReplicaList(opts.replicas)
  const config = loadHubConfig(opts.config)
  const external = 'url' in config.mqtt ? config.mqtt : null
  // Checked before anything is written.
  if (external) plainMqttUrl(external.url)
  const hubUsername = external?.username ?? defaultHubUsername(config.hubId)
  const hubPassword = external?.password !== undefined && external.password !== '' ? external.password : null
  const password = hubPassword ?? randomPassword()
  // Replicas: one login each (they read one hub.json, so one password); Mosquitto ties each client id to
  // its username, so no replica takes over another's session and no station or vehicle id (no '.') is one.
  const hubLogins = (replicas ?? [undefined]).map((r) => ({ username: replicaUsername(hubUsername, r), password }))
  const input: MosquittoAclInput = {
    hubId: config.hubId,
    hub: hubLogins[0] as { username: string; password: string },
    ...(replicas !== null ? { hubs: hubLogins } : {}),
    configuredUsername: hubUsername,
    stations: config.stations,
    vehicles: config.vehicles,
  }
  // Build everything first, so a refused config (colliding ids, bad username) writes nothing.
  const passwd = mosquittoPasswordFile(input)
  const acl = mosquittoAclFile(input)

  const dir = resolve(opts.out)
  // A path under a file, or a folder this user may not write: the operator's --out, not a failure of the hub.
  makeConfiguredDirectory(dir, `hub acl: --out ${opts.out}`, 'give a directory this user may create or write (e.g. /etc/mosquitto/voltway)', 0o700)
  const files = { passwd: join(dir, 'passwd'), acl: join(dir, 'acl'), conf: join(dir, 'mosquitto.conf'), hub: join(dir, 'hub-mqtt.json') }

  let port = 1883
  let bindAddress: string | undefined
  if (external) {
    const u = plainMqttUrl(external.url)
    port = u.port ? Number(u.port) : 1883
    // Listen where the hub is told the broker is, not on every interface.
    bindAddress = u.hostname.replace(/^\[(.*)\]$/, '$1')
  } else if ('listen' in config.mqtt) {
    port = config.mqtt.listen.port
    bindAddress = config.mqtt.listen.host
  }
  // The hub reloads Mosquitto through this pid file (hub.json mqtt.mosquitto): written here, the two cannot disagree.
  const pidFile = external?.mosquitto?.pidFile
  const confDir = join(dir, OPERATOR_CONF_DIR)
  const conf = mosquittoConf({ hubId: config.hubId, port, bindAddress, passwordFile: files.passwd, aclFile: files.acl, includeDir: confDir, ...(pidFile !== undefined ? { pidFile } : {}) })
  keepOperatorLines(files.conf, conf, confDir, pidFile)
  // Mosquitto reads include_dir at start and refuses a missing one; never written into: it is the operator's.
  mkdirSync(confDir, { recursive: true, mode: 0o700 })

  writePrivate(files.passwd, passwd)
  writePrivate(files.acl, acl)
  writePrivate(files.conf, conf)
  const written = [files.passwd, files.acl, files.conf]
  if (hubPassword === null) {
    const url = external?.url ?? `mqtt://${bindAddress === undefined || bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress}:${port}`
    writePrivate(files.hub, JSON.stringify({ mqtt: { url, username: hubUsername, password } }, null, 2) + '\n')
    written.push(files.hub)
  }

  const n = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`
  const w = Math.max(...written.map((f) => f.length))
  const row = (file: string, what: string): string => `  ${file.padEnd(w)}  ${what}`
  const text = [
    `Wrote Mosquitto files for hub ${config.hubId} (${n(config.stations.length, 'station')}, ${n(config.vehicles.length, 'vehicle')}, ${replicas === null ? `hub user ${hubUsername}` : `replica users ${hubLogins.map((l) => l.username).join(', ')}`}), mode 0600:`,
    row(files.passwd, 'password file ($7$ PBKDF2-SHA512, as mosquitto_passwd writes it)'),
    row(files.acl, "ACL: docs/protocol.md's permission table, one block per user"),
    row(files.conf, `listener, allow_anonymous false, password_file, acl_file, use_username_as_clientid true, set_tcp_nodelay true${pidFile !== undefined ? ', pid_file (hub.json mqtt.mosquitto.pidFile)' : ''}, include_dir ${OPERATOR_CONF_DIR}`),
    ...(hubPassword === null
      ? [
          row(files.hub, "the hub's MQTT login, with a new random password (hub.json has no mqtt.password)"),
          '',
          `Copy its "mqtt" object into hub.json, so the hub connects to this broker as ${hubUsername}.`,
        ]
      : ['', replicas === null ? `The hub logs in as ${hubUsername}, and as ${requestUsername(hubUsername)} for vehicle requests, with mqtt.password from hub.json.` : `Each replica (voltway hub --replica NAME) logs in as ${hubUsername}.NAME, and as ${requestUsername(`${hubUsername}.NAME`)} for vehicle requests, with mqtt.password from hub.json.`]),
    '',
    'To use them:',
    `  mosquitto -c ${files.conf}    (Mosquitto reads include_dir only in the file given with -c)`,
    `  Your own lines (TLS listeners, user, logging) go in ${confDir}/NAME.conf: this command never writes there, and Mosquitto reads them after the generated ones.`,
    `  chown -R mosquitto: ${dir}    (when Mosquitto runs as user mosquitto: it must read the directory and every file, and pass through every directory above it; repeat after each run)`,
    '  Run this command again whenever stations, vehicles or passwords change, then reload Mosquitto (SIGHUP).',
    '',
  ].join('\n')
  return { files: written, hubUsername, generatedHubPassword: hubPassword === null, text }
}

/** The hub's store as `voltway hub acl` reads it: open, none yet (no SQLite file), or a PostgreSQL server it could not reach (why). */
export type AclStore = { store: Store | null; unreachable: string | null }

/**
 * Open the hub's store for `voltway hub acl` before it writes anything: a
 * database this Voltway cannot use (SQLite that cannot be opened, a schema a
 * newer Voltway migrated) refuses the command with nothing written, since
 * files written from hub.json alone would drop the store's accounts at the
 * next reload. A PostgreSQL server that does not answer (yet) is only noted:
 * Mosquitto is often set up before the database.
 */
export async function openStoreForAcl(configFile: string): Promise<AclStore> {
  const config = loadHubConfig(configFile)
  if (config.store.type === 'sqlite' && !existsSync(join(config.dataDir, 'hub.sqlite'))) return { store: null, unreachable: null }
  try {
    return { store: await openHubStore(config.store, config.dataDir), unreachable: null }
  } catch (err) {
    if (config.store.type === 'sqlite' || err instanceof SchemaTooNewError) throw err
    return { store: null, unreachable: (err instanceof Error ? err.message : String(err)).replace(/^hub\.json: /, '') }
  }
}

/**
 * What `voltway hub acl` cannot write: accounts in the hub's store (added with
 * the CLI or /admin/v1) that hub.json does not list: this command has no
 * password for them (the running hub writes them with `mqtt.mosquitto`).
 * Empty when there is none or no SQLite database yet; a note when the
 * PostgreSQL store cannot be opened. When hub.json `mqtt.mosquitto` names the
 * files just written in `out`, the store's accounts are written into them
 * (as the running hub does) instead of being named. `opened`: the store
 * openStoreForAcl gave (closed here); opened here when not given.
 */
export async function storeOnlyAccountsNote(configFile: string, out?: string, opened?: AclStore): Promise<string> {
  const config = loadHubConfig(configFile)
  const { store, unreachable } = opened ?? (await openStoreForAcl(configFile))
  const listed = new Set([...config.stations.map((s) => s.stationId), ...config.vehicles.map((v) => v.vehicleId)])
  if (unreachable !== null) return `Not checked: the hub's store (${storeLabel(config.store, config.dataDir)}) could not be opened (${unreachable}), so accounts it has beyond hub.json are not named here.\n`
  if (store === null) return ''
  try {
    const accounts = await store.accounts.list()
    const sync = syncedFiles(config, out)
    if (sync) {
      // The running hub keeps these very files (mqtt.mosquitto): write the store's accounts into them as it does, or the
      // reload after this command (adding a replica) would lock out every account added since hub.json was written.
      // hub.json's accounts the store lacks (no hub has started on it yet) are written from hub.json, as at the hub's first start.
      const inStore = new Set(accounts.map((a) => a.id))
      const seeds: AccountRecord[] = [
        ...config.vehicles.map((v) => ({ id: v.vehicleId, kind: 'vehicle' as const })),
        ...config.stations.map((st) => ({ id: st.stationId, kind: 'station' as const })),
      ]
        .filter((a) => !inStore.has(a.id))
        .map((a) => ({ ...a, passwordHash: `${SEEDED}pending`, brokerHash: null, station: null, createdAtMs: 0, updatedAtMs: 0 }))
      const done = sync.apply([...accounts, ...seeds])
      return (
        `Also wrote the hub's store's accounts into ${out} (hub.json mqtt.mosquitto names these files): ${done.logins} login(s)` +
        (done.unwritable.length > 0 ? `; not written (no Mosquitto hash, set their password again): ${done.unwritable.join(', ')}` : '') +
        (done.reloaded ? '; Mosquitto was told to reload.\n' : '.\n')
      )
    }
    const missing = accounts.map((a) => a.id).filter((id) => !listed.has(id))
    if (missing.length === 0) return ''
    return (
      `Not written: ${missing.length} account(s) in the hub's store but not in hub.json (${missing.join(', ')}): this command writes hub.json's passwords only. ` +
      'Set hub.json mqtt.mosquitto so the running hub writes every account into these files itself (docs/operator-guide.md, "Accounts and an external Mosquitto"), or use the embedded broker.\n'
    )
  } finally {
    await store.close()
  }
}

/** The running hub's Mosquitto sync when hub.json `mqtt.mosquitto` names `out`'s passwd and acl files; else null. */
function syncedFiles(config: HubConfig, out: string | undefined): MosquittoSync | null {
  if (out === undefined || !('url' in config.mqtt) || config.mqtt.mosquitto === undefined) return null
  const files = config.mqtt.mosquitto
  if (resolve(files.passwordFile) !== resolve(out, 'passwd') || resolve(files.aclFile) !== resolve(out, 'acl')) return null
  const configPasswords = new Map([...config.vehicles.map((v) => [v.vehicleId, v.password] as const), ...config.stations.map((st) => [st.stationId, st.password] as const)])
  return new MosquittoSync({
    hubId: config.hubId,
    files,
    hub: { username: hubUsernameOf(config), password: config.mqtt.password },
    configPasswords,
    logger: pino({ level: 'warn' }, pino.destination(2)),
  })
}
