/**
 * Files for an external Mosquitto 2 broker that enforce the permission table
 * of docs/protocol.md: a password file in mosquitto_passwd's `$7$` format
 * (PBKDF2-HMAC-SHA512), an ACL file, and a mosquitto.conf snippet.
 *
 * The ACL is written as one `user` block per station and vehicle, not as
 * `pattern ... %u` rules: Mosquitto applies every pattern to every user, so
 * with patterns each vehicle would also get the station rights on
 * `stations/<its id>/...` and each station the vehicle rights (publishing
 * requests as `hubs/+/req/<its id>`, reading every station's state), which
 * the table does not allow. Per-user blocks are exactly the table.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { ConfigError } from '../../protocol/index.js'
import { PERMISSIONS, expandFilter, type IdentityKind } from './permissions.js'
import { assertNoIdentityCollisions, processLogins, type StationCredential, type VehicleCredential } from './identities.js'

/** mosquitto_passwd's defaults for `-H sha512-pbkdf2` (Mosquitto 2.0): 12-byte salt, 101 rounds. */
export const MOSQUITTO_PBKDF2_ITERATIONS = 101
const SALT_BYTES = 12
const HASH_BYTES = 64

/** `$7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512(password, salt)>`, as mosquitto_passwd writes it. */
export function mosquittoPasswordHash(password: string, opts: { salt?: Buffer; iterations?: number } = {}): string {
  const salt = opts.salt ?? randomBytes(SALT_BYTES)
  const iterations = opts.iterations ?? MOSQUITTO_PBKDF2_ITERATIONS
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('iterations must be a positive integer')
  const hash = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, HASH_BYTES, 'sha512')
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`
}

/**
 * A username Mosquitto can carry in both files and as a client id: 1 to
 * MAX_USERNAME characters of printable ASCII without spaces (the ACL file is
 * line- and space-based), `:` (the password file's separator) or `+`/`#`
 * (refused in client ids).
 */
const USERNAME_CHARS = /^[!-~]+$/
const MAX_USERNAME = 256
const FORBIDDEN_USERNAME_CHARS = /[:+#]/

/** `username` as a message quotes it: whole up to 64 characters, else its start, its end and its length. */
const quoted = (username: string): string => (username.length <= 64 ? `"${username}"` : `"${username.slice(0, 24)}...${username.slice(-24)}" (${username.length} characters)`)

function checkCharacters(username: string, field: string): void {
  if (!USERNAME_CHARS.test(username) || FORBIDDEN_USERNAME_CHARS.test(username)) {
    throw new ConfigError(`hub.json: ${field}: ${quoted(username)} cannot be a Mosquitto username (use printable ASCII without spaces, ':', '+' or '#')`)
  }
}

function checkUsername(username: string, field: string): void {
  checkCharacters(username, field)
  if (username.length > MAX_USERNAME) throw new ConfigError(`hub.json: ${field}: ${quoted(username)} is too long for a Mosquitto username; use at most ${MAX_USERNAME} characters`)
}

/**
 * The logins of hub processes (`hubLogins`: the hub's, or one per replica) and their request logins
 * (identities.ts processLogins) must all be Mosquitto usernames: characters first, then length. The request
 * login adds `/requests` (a replica's `.NAME` before it), so `configured` (hub.json `mqtt.username`) has that
 * much less room than the 256 characters this project allows a Mosquitto username; the message gives the
 * room the longest login leaves. Throws ConfigError.
 */
export function checkHubLogins(hubLogins: readonly string[], configured: string): void {
  checkCharacters(configured, 'mqtt.username')
  for (const login of hubLogins) checkCharacters(login, 'mqtt.username')
  const longest = hubLogins.flatMap((l) => processLogins(l)).reduce((a, b) => (b.length > a.length ? b : a), '')
  if (longest.length <= MAX_USERNAME) return
  const room = MAX_USERNAME - (longest.length - configured.length)
  throw new ConfigError(
    `hub.json: mqtt.username: ${quoted(configured)} leaves no room for the hub's login ${quoted(longest)} (over the ${MAX_USERNAME} characters voltway hub acl allows a Mosquitto username); use at most ${Math.max(0, room)} characters`,
  )
}

export interface MosquittoAclInput {
  hubId: string
  hub: { username: string; password: string }
  /** Every hub login when the hub runs as replicas (`hub.<hubId>.<replica>`); default `[hub]`. Each gets the hub's rights, and so does its request login (`<login>/requests`). */
  hubs?: ReadonlyArray<{ username: string; password: string }>
  /** hub.json's `mqtt.username` (or the default) that `hub`/`hubs` derive from, for messages; default `hub.username`. */
  configuredUsername?: string
  stations: readonly StationCredential[]
  vehicles: readonly VehicleCredential[]
  /** PBKDF2 rounds; default mosquitto_passwd's 101. */
  iterations?: number
}

interface User {
  kind: IdentityKind
  username: string
  password: string
}

/** A login as the password and ACL files list it: its role, its username and its `$7$` hash (never the password). */
export interface MosquittoLogin {
  kind: IdentityKind
  username: string
  hash: string
}

function usersOf(input: MosquittoAclInput): User[] {
  const hubs = input.hubs ?? [input.hub]
  checkHubLogins(
    hubs.map((h) => h.username),
    input.configuredUsername ?? input.hub.username,
  )
  for (const h of hubs) {
    assertNoIdentityCollisions({
      hubId: input.hubId,
      mqtt: { url: 'mqtt://unused', username: h.username },
      stations: input.stations,
      vehicles: input.vehicles,
    })
  }
  return [
    // Each hub login and its request connection's (identities.ts processLogins), with the hub's rights and password.
    ...hubs.flatMap((h) => processLogins(h.username).map((username): User => ({ kind: 'hub', username, password: h.password }))),
    ...input.stations.map((s): User => ({ kind: 'station', username: s.stationId, password: s.password })),
    ...input.vehicles.map((v): User => ({ kind: 'vehicle', username: v.vehicleId, password: v.password })),
  ]
}

/** The password file: one `username:$7$...` line per hub, station and vehicle. */
export function mosquittoPasswordFile(input: MosquittoAclInput): string {
  return passwordLines(usersOf(input).map((u) => ({ kind: u.kind, username: u.username, hash: mosquittoPasswordHash(u.password, { iterations: input.iterations }) })))
}

/** The password file of logins whose `$7$` hashes are known already (the hub's store keeps them: hub/accounts/mosquitto-sync.ts). */
export function passwordLines(logins: readonly MosquittoLogin[]): string {
  for (const l of logins) checkUsername(l.username, 'username')
  return logins.map((l) => `${l.username}:${l.hash}\n`).join('')
}

/** The ACL file: one `user` block per identity, with the topics of docs/protocol.md's table. */
export function mosquittoAclFile(input: MosquittoAclInput): string {
  return aclLines(input.hubId, usersOf(input), '`voltway hub acl`')
}

/** The ACL file for `logins`; `by` names who writes it (for the header). */
export function aclLines(hubId: string, logins: ReadonlyArray<Pick<MosquittoLogin, 'kind' | 'username'>>, by: string): string {
  const lines = [
    `# Voltway ACL for hub ${hubId}, generated by ${by}. Regenerate rather than edit.`,
    '# The permission table of docs/protocol.md, one block per username. No anonymous',
    '# rules and no patterns: a user gets exactly the topics listed under its name.',
  ]
  for (const u of logins) {
    const rules = PERMISSIONS[u.kind]
    const write = rules.publish.map((f) => expandFilter(f, u.username))
    const read = rules.subscribe.map((f) => expandFilter(f, u.username))
    lines.push('', `# ${u.kind}`, `user ${u.username}`)
    for (const f of write) lines.push(read.includes(f) ? `topic readwrite ${f}` : `topic write ${f}`)
    for (const f of read) if (!write.includes(f)) lines.push(`topic read ${f}`)
  }
  return lines.join('\n') + '\n'
}

export interface MosquittoConfInput {
  passwordFile: string
  aclFile: string
}

/** mosquitto.conf lines that belong after a `listener` line: logins required, our files, ids tied to usernames. */
export function mosquittoConfLines(input: MosquittoConfInput): string[] {
  return [
    'allow_anonymous false',
    `password_file ${input.passwordFile}`,
    `acl_file ${input.aclFile}`,
    // Client ids cannot be spoofed and one login cannot take over another's session.
    'use_username_as_clientid true',
    // Small request/response packets: without this each round trip can stall on Nagle plus delayed ACKs.
    'set_tcp_nodelay true',
  ]
}

/** The folder beside the generated mosquitto.conf whose `*.conf` files Mosquitto loads after it: the operator's own lines. */
export const OPERATOR_CONF_DIR = 'conf.d'

/**
 * A whole mosquitto.conf with its listener. `bindAddress` is the one address
 * Mosquitto listens on (the host of hub.json `mqtt.url`, IPv6 without
 * brackets); without it Mosquitto listens on every interface. `pidFile`
 * (hub.json `mqtt.mosquitto.pidFile`): a `pid_file` line, so the running hub
 * finds the process to reload. `includeDir`: an `include_dir` line, last, so
 * the operator's files there (TLS listeners, `user`, logging) are read after
 * the generated lines and survive every regeneration.
 */
export function mosquittoConf(input: MosquittoConfInput & { hubId: string; port: number; bindAddress?: string; tls?: boolean; pidFile?: string; includeDir?: string }): string {
  return [
    `# Voltway: Mosquitto 2 settings for hub ${input.hubId}, generated by \`voltway hub acl\`. Regenerate rather than edit:`,
    ...(input.includeDir ? [`# put your own lines in ${input.includeDir}/NAME.conf (read after these, kept by every run).`] : []),
    ...(input.pidFile ? [`pid_file ${input.pidFile}`] : []),
    `listener ${input.port}${input.bindAddress ? ` ${input.bindAddress}` : ''}`,
    ...(input.tls ? ['# mqtts: set certfile and keyfile for this listener', '#certfile /path/to/cert.pem', '#keyfile /path/to/key.pem'] : []),
    ...mosquittoConfLines(input),
    ...(input.includeDir ? [`include_dir ${input.includeDir}`] : []),
    '',
  ].join('\n')
}

/** Keys whose value `voltway hub acl` derives from hub.json and --out: its first such line of an older file is its own, whatever the value. */
const DERIVED_KEYS = new Set(['listener', 'password_file', 'acl_file', 'include_dir'])

/**
 * The lines of an existing mosquitto.conf that `voltway hub acl` did not
 * write and would drop by replacing it with `generated`: anything but blank
 * lines, comments, lines `generated` has too, and the first `listener`,
 * `password_file`, `acl_file` and `include_dir` line (regenerated from hub.json, possibly
 * with another value). A second `listener` (a TLS listener added by hand),
 * a changed `allow_anonymous`, `user`, `log_dest` ... are the operator's.
 */
export function operatorConfLines(existing: string, generated: string): string[] {
  const ours = new Set(generated.split('\n').map((l) => l.trim()))
  const seen = new Set<string>()
  const foreign: string[] = []
  for (const raw of existing.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const key = line.split(/\s+/)[0] ?? ''
    const first = !seen.has(key)
    seen.add(key)
    if (ours.has(line) || (first && DERIVED_KEYS.has(key))) continue
    foreign.push(line)
  }
  return foreign
}
