/**
 * Keeps an external Mosquitto in step with the hub's accounts (hub.json
 * `mqtt.mosquitto`, docs/operator-guide.md "Accounts and an external
 * Mosquitto"): after every change the hub rewrites Mosquitto's password and
 * ACL files from the store and sends SIGHUP to the process in the pid file,
 * on which Mosquitto 2 reads both files again. New logins work from then on;
 * removed or re-passworded ones are refused at their next CONNECT (Mosquitto
 * keeps connections it accepted before the reload).
 *
 * No clear text is written: each account's line is the `$7$` hash stored with
 * its password (AccountRecord.brokerHash, made by AccountService when the
 * password was set). An account seeded from hub.json and unchanged since is
 * hashed from hub.json's password (the operator's file holds it anyway). An
 * account with a password but no broker hash (set before `mqtt.mosquitto`
 * was configured) cannot be written: it is left out and named in the log,
 * until its password is set again.
 *
 * Hub logins (the hub's `mqtt.username`, `<username>.<replica>` as
 * `voltway hub acl --replicas` writes them, and each one's `.../requests`)
 * already in the password file are kept as they are, so a replica never locks
 * out the others; the hub's own login and its request login are written from
 * hub.json's `mqtt.password` when the file lacks them.
 */
import { readRegularFile } from '../../base/read-regular-file.js'
import { writeFileAtomic } from '../../base/write-file-atomic.js'
import type { Logger } from 'pino'
import { ConfigError, MAX_CONFIG_BYTES } from '../../protocol/index.js'
import { SEEDED } from '../broker/password-hash.js'
import { aclLines, checkHubLogins, mosquittoPasswordHash, passwordLines, type MosquittoLogin } from '../broker/mosquitto-acl.js'
import { processLogins } from '../broker/identities.js'
import type { AccountRecord } from '../store/index.js'

export interface MosquittoFiles {
  passwordFile: string
  aclFile: string
  pidFile: string
}

export interface MosquittoSyncOptions {
  hubId: string
  files: MosquittoFiles
  /** The hub's MQTT login (hub.json `mqtt.username`, `mqtt.password`); without a password its line is only kept, never written. */
  hub: { username: string; password?: string | undefined }
  /** hub.json's passwords by id, for accounts seeded from it (password-hash.ts `SEEDED`). */
  configPasswords: ReadonlyMap<string, string>
  logger: Logger
}

export interface SyncOutcome {
  /** Logins written (hub logins included). */
  logins: number
  /** Accounts with a password that could not be written (no broker hash). */
  unwritable: string[]
  /** Whether a running Mosquitto was told to reload. */
  reloaded: boolean
}

/** Write a file readable by its owner and group only (Mosquitto reads it as its own user: give the directory its group), replacing the old one atomically. */
function writeShared(file: string, content: string): void {
  writeFileAtomic(file, content, 0o640)
}

export class MosquittoSync {
  readonly #o: MosquittoSyncOptions
  readonly #log: Logger
  /** `$7$` hashes of hub.json passwords by id and password, so an unchanged account keeps its line. */
  readonly #seeded = new Map<string, { password: string; hash: string }>()
  #lastUnwritable = ''

  constructor(opts: MosquittoSyncOptions) {
    this.#o = opts
    this.#log = opts.logger.child({ component: 'mosquitto-sync' })
  }

  /**
   * Write both files for `accounts` and signal Mosquitto. Throws ConfigError
   * naming the file when a file cannot be written; a missing pid file or
   * process is logged (Mosquitto reads the files when it starts).
   */
  apply(accounts: readonly AccountRecord[]): SyncOutcome {
    const unwritable: string[] = []
    const logins: MosquittoLogin[] = [...this.#hubLogins()]
    for (const a of accounts) {
      if (a.passwordHash === null) continue // a station not enrolled yet cannot log in
      const hash = a.brokerHash ?? this.#seededHash(a)
      if (hash === null) unwritable.push(a.id)
      else logins.push({ kind: a.kind, username: a.id, hash })
    }
    this.#write(this.#o.files.passwordFile, 'passwordFile', passwordLines(logins))
    this.#write(this.#o.files.aclFile, 'aclFile', aclLines(this.#o.hubId, logins, `hub ${this.#o.hubId} from its accounts (hub.json mqtt.mosquitto)`))
    const key = unwritable.join(',')
    if (key !== this.#lastUnwritable && unwritable.length > 0) {
      this.#log.warn({ accounts: unwritable }, 'accounts without a Mosquitto hash are not in the password file: set their password again (voltway hub vehicle|station passwd)')
    }
    this.#lastUnwritable = key
    return { logins: logins.length, unwritable, reloaded: this.#reload() }
  }

  /** Hub logins already in the password file, and this hub's own from hub.json when missing. */
  #hubLogins(): MosquittoLogin[] {
    const { username, password } = this.#o.hub
    const kept: MosquittoLogin[] = []
    let current = ''
    try {
      current = readRegularFile(this.#o.files.passwordFile, MAX_CONFIG_BYTES).toString('utf8')
    } catch {
      // No file yet: the first write makes it.
    }
    for (const line of current.split('\n')) {
      const i = line.indexOf(':')
      const user = i > 0 ? line.slice(0, i) : ''
      if (user === username || user.startsWith(`${username}.`) || user.startsWith(`${username}/`)) kept.push({ kind: 'hub', username: user, hash: line.slice(i + 1) })
    }
    if (password === undefined || password === '') return kept
    // This process's logins: the hub's and its request connection's, both with hub.json's password.
    // Refused in the words `voltway hub acl` uses (the room the request login leaves), not as a bare long line.
    checkHubLogins([username], username)
    const mine = processLogins(username)
    const fresh = mine.map((name): MosquittoLogin => {
      const own = kept.find((l) => l.username === name)
      // Keep the line while it still matches hub.json's password (no rewrite per change); replace it when not.
      const login = own && this.#seededMatch(name, password, own.hash) ? own : { kind: 'hub' as const, username: name, hash: mosquittoPasswordHash(password) }
      this.#seeded.set(`hub:${name}`, { password, hash: login.hash })
      return login
    })
    return [...fresh, ...kept.filter((l) => !mine.includes(l.username))]
  }

  #seededMatch(username: string, password: string, hash: string): boolean {
    const known = this.#seeded.get(`hub:${username}`)
    return known !== undefined && known.password === password && known.hash === hash
  }

  #seededHash(a: AccountRecord): string | null {
    if (!a.passwordHash?.startsWith(SEEDED)) return null
    const password = this.#o.configPasswords.get(a.id)
    if (password === undefined) return null
    const known = this.#seeded.get(a.id)
    if (known?.password === password) return known.hash
    const hash = mosquittoPasswordHash(password)
    this.#seeded.set(a.id, { password, hash })
    return hash
  }

  #write(file: string, field: string, content: string): void {
    try {
      writeShared(file, content)
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err)
      throw new ConfigError(`hub.json: mqtt.mosquitto.${field}: cannot write ${file} (${why}); the hub's user needs write access to its directory`)
    }
  }

  /** SIGHUP to the pid in the pid file: Mosquitto 2 reloads password_file and acl_file. */
  #reload(): boolean {
    let pid: number
    try {
      pid = Number.parseInt(readRegularFile(this.#o.files.pidFile, 64).toString('utf8').trim(), 10)
    } catch (err) {
      this.#log.warn({ pidFile: this.#o.files.pidFile, err: String(err) }, 'no Mosquitto pid file: the files are written, Mosquitto reads them when it starts (set pid_file in mosquitto.conf)')
      return false
    }
    if (!Number.isInteger(pid) || pid <= 1) {
      this.#log.warn({ pidFile: this.#o.files.pidFile }, 'the Mosquitto pid file holds no process id')
      return false
    }
    try {
      process.kill(pid, 'SIGHUP')
      return true
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const hint = code === 'EPERM' ? ': run Mosquitto as the hub\'s user (mosquitto.conf "user"), or the hub as Mosquitto\'s' : ''
      this.#log.warn({ pid, code }, `could not signal Mosquitto to reload${hint}`)
      return false
    }
  }
}
