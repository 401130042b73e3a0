/**
 * The agent's durable memory, a SQLite file in dataDir (better-sqlite3):
 * - the event outbox: every event gets the next `seq` and the outbox's `epoch`
 *   (a random id made when the outbox starts numbering, so a new SD card is a
 *   new epoch from seq 1), and is pending until the hub acks it (`ack {seq,
 *   epoch}`: every event of the epoch up to seq is stored), so it survives
 *   restarts and is sent again after each reconnect (docs/protocol.md). The
 *   newest KEEP_ACKED acknowledged events are kept too, so a hub restored from
 *   an older backup can ask for them again (`resendFrom`);
 * - the running session (id, meter start, maxWh), written in the same
 *   transaction as its `session.started` / `session.stopped` event, so a
 *   restarted agent knows a session was running and ends it exactly once;
 * - ended sessions and answered commands, for idempotent commands;
 * - the enabled/disabled flag.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { newId, StationCommandResult, StationEvent, type StationAck } from '../protocol/index.js'
import { makeDirectory } from '../base/make-directory.js'

type Distribute<T> = T extends unknown ? Omit<T, 'seq' | 'epoch'> : never
/** An event before the outbox numbers it. */
export type EventInput = Distribute<StationEvent>

export interface PersistedSession {
  sessionId: string
  meterStartWh: number
  maxWh: number | null
  startedAt: number
}

export interface EndedSession {
  sessionId: string
  reason: string
  energyWh: number
  meterStopWh: number
  endedAt: number
}

/** What an ack did to the outbox. */
export type AckOutcome =
  | { applied: false; reason: 'other-epoch' }
  | {
      applied: true
      /** The hub's ack named a seq this outbox never numbered (it is taken as lastSeq). */
      beyondLast: boolean
      /** The hub asked for events from this seq and the outbox holds it: send them again now. */
      resendFrom?: number
      /** The hub asked for events from this seq that the outbox no longer holds (acked and pruned). */
      lost?: number
    }

export const OUTBOX_FILE = 'station.sqlite'
/** Acknowledged events kept for a hub that forgot them (restored from a backup). */
export const KEEP_ACKED = 1000
const SCHEMA_VERSION = 2
const KEEP_COMMANDS = 1000
const KEEP_ENDED_SESSIONS = 1000

interface EventRow {
  seq: number
  body: string
}
interface SessionRow {
  session_id: string
  meter_start_wh: number
  max_wh: number | null
  started_at: number
}
interface EndedRow {
  session_id: string
  reason: string
  energy_wh: number
  meter_stop_wh: number
  ended_at: number
}

/**
 * The agent's durable memory, as the charging session, the hub-command table
 * and the agent use it. Every method is synchronous and either completes or
 * throws (the SQLite implementation throws better-sqlite3's errors, e.g.
 * SQLITE_FULL); nothing is kept half-written. What is stored must survive a
 * restart of the agent: an implementation that keeps it in memory only is a
 * test double, shared by the successive agents of one test.
 */
export interface StationOutbox {
  /** The seq of the newest event of this epoch (0 before the first); never goes back within an epoch. */
  readonly lastSeq: number
  /** Every event up to this seq is acknowledged by the hub. */
  readonly ackedSeq: number
  /**
   * The outbox's epoch (a random id made when it starts numbering from seq 1;
   * a new storage medium is a new epoch), or null while events from before
   * epochs are still unacknowledged. Events carry it beside `seq`.
   */
  readonly epoch: string | null
  /**
   * Number `input` lastSeq + 1, store it until acked, and in the same atomic
   * step record the session change it stands for: `session` replaces the
   * running session (`null` clears it), `ended` remembers an ended session
   * (the newest 1000 are kept). Throws a ZodError if the event is not a valid
   * StationEvent (nothing stored). Returns the numbered event.
   */
  append(input: EventInput, change?: { session?: PersistedSession | null; ended?: EndedSession }): StationEvent
  /** Unacknowledged events with seq >= fromSeq, oldest first. */
  pending(fromSeq?: number): StationEvent[]
  /** How many events are unacknowledged. */
  readonly pendingCount: number
  /**
   * Apply the hub's ack `{seq, epoch?, resendFrom?}` (docs/protocol.md,
   * "Events"): an ack for another epoch changes nothing; every event up to
   * `seq` is acknowledged (never past lastSeq); `resendFrom` makes the events
   * from that seq pending again when they are still kept (the newest
   * KEEP_ACKED acknowledged ones are), else reports them `lost`.
   */
  ack(ack: StationAck): AckOutcome
  /** The running session, or null. */
  currentSession(): PersistedSession | null
  /** How session `sessionId` ended, if it did (among the newest 1000). */
  endedSession(sessionId: string): EndedSession | undefined
  /** The answer given to command `id` before, if any (among the newest 1000). */
  commandResult(id: string): StationCommandResult | undefined
  /** Remember the answer to command `result.id`, answered at `now` (epoch ms). */
  saveCommandResult(result: StationCommandResult, now: number): void
  /** The operator's enable/disable flag (false until set). */
  disabled: boolean
  /** Release the storage; idempotent. Nothing may be called after it. */
  close(): void
}

/** The SQLite outbox: `dataDir/station.sqlite`, WAL, synchronous FULL. */
export class Outbox implements StationOutbox {
  readonly #db: Database.Database
  #lastSeq: number
  #ackedSeq: number
  #epoch: string | null

  constructor(file: string) {
    this.#db = new Database(file)
    // Events are money: WAL for concurrency with readers, FULL so a commit survives power loss.
    this.#db.pragma('journal_mode = WAL')
    this.#db.pragma('synchronous = FULL')
    this.#db.pragma('busy_timeout = 2000')
    this.#migrate()
    this.#lastSeq = Number(this.#meta('lastSeq') ?? '0')
    this.#ackedSeq = Number(this.#meta('ackedSeq') ?? '0')
    this.#epoch = this.#meta('epoch') ?? null
    this.#db.transaction(() => this.#startEpochIfIdle()).immediate()
  }

  /** Open (creating dataDir and the file if needed) `dataDir/station.sqlite`. */
  static open(dataDir: string): Outbox {
    makeDirectory(dataDir)
    return new Outbox(join(dataDir, OUTBOX_FILE))
  }

  /** The seq of the newest event of this epoch (0 before the first). */
  get lastSeq(): number {
    return this.#lastSeq
  }

  /** Every event up to this seq is acknowledged by the hub. */
  get ackedSeq(): number {
    return this.#ackedSeq
  }

  /**
   * The outbox's epoch, or null while an outbox from before epochs still holds
   * unacknowledged epoch-less events (the epoch starts, at seq 1, once they are acked).
   */
  get epoch(): string | null {
    return this.#epoch
  }

  /**
   * Number and store an event, and in the same transaction record the session
   * change it stands for (`session: null` clears the running session).
   */
  append(input: EventInput, change: { session?: PersistedSession | null; ended?: EndedSession } = {}): StationEvent {
    const tx = this.#db.transaction((): StationEvent => {
      this.#startEpochIfIdle()
      const seq = this.#lastSeq + 1
      const event = StationEvent.parse({ ...input, seq, ...(this.#epoch !== null ? { epoch: this.#epoch } : {}) })
      this.#db.prepare('INSERT INTO events (seq, body) VALUES (?, ?)').run(seq, JSON.stringify(event))
      this.#setMeta('lastSeq', String(seq))
      if (change.session === null) this.#db.prepare('DELETE FROM session').run()
      else if (change.session) {
        const s = change.session
        this.#db
          .prepare('INSERT OR REPLACE INTO session (one, session_id, meter_start_wh, max_wh, started_at) VALUES (1, ?, ?, ?, ?)')
          .run(s.sessionId, s.meterStartWh, s.maxWh, s.startedAt)
      }
      if (change.ended) {
        const e = change.ended
        this.#db
          .prepare('INSERT OR REPLACE INTO ended_sessions (session_id, reason, energy_wh, meter_stop_wh, ended_at) VALUES (?, ?, ?, ?, ?)')
          .run(e.sessionId, e.reason, e.energyWh, e.meterStopWh, e.endedAt)
        this.#db
          .prepare('DELETE FROM ended_sessions WHERE rowid NOT IN (SELECT rowid FROM ended_sessions ORDER BY ended_at DESC, rowid DESC LIMIT ?)')
          .run(KEEP_ENDED_SESSIONS)
      }
      return event
    })
    const event = tx.immediate()
    this.#lastSeq = event.seq
    return event
  }

  /** Unacknowledged events with seq >= fromSeq, oldest first. */
  pending(fromSeq = 0): StationEvent[] {
    const rows = this.#db.prepare('SELECT seq, body FROM events WHERE seq > ? AND seq >= ? ORDER BY seq').all(this.#ackedSeq, fromSeq) as EventRow[]
    return rows.map((r) => StationEvent.parse(JSON.parse(r.body)))
  }

  get pendingCount(): number {
    const row = this.#db.prepare('SELECT COUNT(*) AS n FROM events WHERE seq > ?').get(this.#ackedSeq) as { n: number }
    return row.n
  }

  /**
   * Apply the hub's ack (docs/protocol.md, "Events"). An ack for another epoch
   * (an old SD card's) changes nothing; one without an epoch is a hub that
   * does not know epochs and applies as it is. Every event up to `seq` is
   * acknowledged (never past lastSeq; a lower seq than already acknowledged
   * is a late ack and changes nothing). `resendFrom` makes the events from
   * that seq pending again: the hub lacks them, e.g. it was restored from an
   * older backup.
   */
  ack(ack: StationAck): AckOutcome {
    if (ack.epoch !== undefined && ack.epoch !== this.#epoch) return { applied: false, reason: 'other-epoch' }
    const beyondLast = ack.seq > this.#lastSeq
    let acked = Math.max(this.#ackedSeq, Math.min(ack.seq, this.#lastSeq))
    const out: AckOutcome = { applied: true, beyondLast }
    if (ack.resendFrom !== undefined && ack.resendFrom <= this.#lastSeq) {
      acked = Math.min(acked, ack.resendFrom - 1)
      if (this.#db.prepare('SELECT 1 FROM events WHERE seq = ?').get(ack.resendFrom)) out.resendFrom = ack.resendFrom
      else out.lost = ack.resendFrom
    }
    this.#db
      .transaction(() => {
        this.#setMeta('ackedSeq', String(acked))
        this.#db.prepare('DELETE FROM events WHERE seq <= ?').run(acked - KEEP_ACKED)
      })
      .immediate()
    this.#ackedSeq = acked
    return out
  }

  currentSession(): PersistedSession | null {
    const row = this.#db.prepare('SELECT session_id, meter_start_wh, max_wh, started_at FROM session WHERE one = 1').get() as SessionRow | undefined
    return row ? { sessionId: row.session_id, meterStartWh: row.meter_start_wh, maxWh: row.max_wh, startedAt: row.started_at } : null
  }

  endedSession(sessionId: string): EndedSession | undefined {
    const row = this.#db
      .prepare('SELECT session_id, reason, energy_wh, meter_stop_wh, ended_at FROM ended_sessions WHERE session_id = ?')
      .get(sessionId) as EndedRow | undefined
    return row
      ? { sessionId: row.session_id, reason: row.reason, energyWh: row.energy_wh, meterStopWh: row.meter_stop_wh, endedAt: row.ended_at }
      : undefined
  }

  /** The answer given to command `id` before, if any (commands are idempotent by id, across restarts). */
  commandResult(id: string): StationCommandResult | undefined {
    const row = this.#db.prepare('SELECT result FROM commands WHERE id = ?').get(id) as { result: string } | undefined
    return row ? StationCommandResult.parse(JSON.parse(row.result)) : undefined
  }

  saveCommandResult(result: StationCommandResult, now: number): void {
    this.#db.prepare('INSERT OR REPLACE INTO commands (id, result, at) VALUES (?, ?, ?)').run(result.id, JSON.stringify(result), now)
    this.#db.prepare('DELETE FROM commands WHERE rowid NOT IN (SELECT rowid FROM commands ORDER BY rowid DESC LIMIT ?)').run(KEEP_COMMANDS)
  }

  get disabled(): boolean {
    return this.#meta('disabled') === '1'
  }

  set disabled(value: boolean) {
    this.#setMeta('disabled', value ? '1' : '0')
  }

  close(): void {
    if (this.#db.open) this.#db.close()
  }

  #meta(key: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined
    return row?.value
  }

  #setMeta(key: string, value: string): void {
    this.#db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value)
  }

  /**
   * Start numbering a new epoch from seq 1 when the outbox has none yet and
   * nothing is pending: a new outbox, or one from before epochs once the hub
   * has acknowledged its last epoch-less event. Runs inside a transaction.
   */
  #startEpochIfIdle(): void {
    if (this.#epoch !== null || this.pendingCount > 0) return
    const epoch = newId('e')
    this.#db.prepare('DELETE FROM events').run()
    this.#setMeta('epoch', epoch)
    this.#setMeta('lastSeq', '0')
    this.#setMeta('ackedSeq', '0')
    this.#epoch = epoch
    this.#lastSeq = 0
    this.#ackedSeq = 0
  }

  #migrate(): void {
    const version = this.#db.pragma('user_version', { simple: true }) as number
    if (version >= SCHEMA_VERSION) return
    if (version === 1) {
      // Version 1 deleted acknowledged events: everything still stored is pending.
      this.#db.exec(`
        INSERT OR REPLACE INTO meta (key, value)
          SELECT 'ackedSeq', COALESCE((SELECT MIN(seq) - 1 FROM events), (SELECT value FROM meta WHERE key = 'lastSeq'), '0');
        PRAGMA user_version = ${SCHEMA_VERSION};
      `)
      return
    }
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS session (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        session_id TEXT NOT NULL, meter_start_wh INTEGER NOT NULL, max_wh INTEGER, started_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS ended_sessions (
        session_id TEXT PRIMARY KEY, reason TEXT NOT NULL, energy_wh INTEGER NOT NULL,
        meter_stop_wh INTEGER NOT NULL, ended_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS commands (id TEXT PRIMARY KEY, result TEXT NOT NULL, at INTEGER NOT NULL);
      PRAGMA user_version = ${SCHEMA_VERSION};
    `)
  }
}
