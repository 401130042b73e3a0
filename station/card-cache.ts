/**
 * The local authorization cache (OCPP's local authorization list): cards the
 * hub authorized, each until the `expiresAt` the hub gave, so an offline
 * station can still start them. Kept in the outbox's SQLite file
 * (`dataDir/station.sqlite`, its own table), so it survives restarts.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { OUTBOX_FILE } from './outbox.js'
import { makeDirectory } from '../base/make-directory.js'

export interface CachedCard {
  idTag: string
  vehicleId: string
  /** Until when the card may start offline, epoch ms (from the hub's answer). */
  expiresAt: number
}

/**
 * Contract: `put` replaces the card's entry; `get` returns it whether expired
 * or not (the caller compares `expiresAt` with its clock); `remove` forgets
 * it (the hub answered CARD_UNKNOWN: revoked). Synchronous; `close()` is idempotent.
 */
export interface CardCache {
  get(idTag: string): CachedCard | undefined
  put(card: CachedCard): void
  remove(idTag: string): void
  close(): void
}

/** The most cards kept; the ones expiring first go first. */
const KEEP_CARDS = 10_000

export class SqliteCardCache implements CardCache {
  readonly #db: Database.Database

  constructor(file: string) {
    this.#db = new Database(file)
    this.#db.pragma('journal_mode = WAL')
    this.#db.pragma('busy_timeout = 2000')
    this.#db.exec('CREATE TABLE IF NOT EXISTS card_cache (id_tag TEXT PRIMARY KEY, vehicle_id TEXT NOT NULL, expires_at INTEGER NOT NULL)')
  }

  /** Next to the outbox: `dataDir/station.sqlite`. */
  static open(dataDir: string): SqliteCardCache {
    makeDirectory(dataDir)
    return new SqliteCardCache(join(dataDir, OUTBOX_FILE))
  }

  get(idTag: string): CachedCard | undefined {
    const row = this.#db.prepare('SELECT vehicle_id, expires_at FROM card_cache WHERE id_tag = ?').get(idTag) as { vehicle_id: string; expires_at: number } | undefined
    return row ? { idTag, vehicleId: row.vehicle_id, expiresAt: row.expires_at } : undefined
  }

  put(card: CachedCard): void {
    this.#db.prepare('INSERT OR REPLACE INTO card_cache (id_tag, vehicle_id, expires_at) VALUES (?, ?, ?)').run(card.idTag, card.vehicleId, card.expiresAt)
    this.#db.prepare('DELETE FROM card_cache WHERE rowid NOT IN (SELECT rowid FROM card_cache ORDER BY expires_at DESC LIMIT ?)').run(KEEP_CARDS)
  }

  remove(idTag: string): void {
    this.#db.prepare('DELETE FROM card_cache WHERE id_tag = ?').run(idTag)
  }

  close(): void {
    if (this.#db.open) this.#db.close()
  }
}
