/**
 * Schema migrations, applied in order; `PRAGMA user_version` records the last
 * one applied. Append-only: never edit or reorder a migration that has
 * shipped, add a new one. Every area (sessions, events, receipts, trips,
 * idempotency keys) appends its own tables here.
 *
 * SQL is kept portable to PostgreSQL where it costs nothing: times are
 * INTEGER epoch milliseconds (BIGINT there), ids TEXT, no SQLite-only types.
 */
export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'reservations and holds',
    sql: `
      CREATE TABLE reservations (
        reservation_id TEXT PRIMARY KEY,
        station_id     TEXT NOT NULL,
        vehicle_id     TEXT NOT NULL,
        lat            REAL NOT NULL,
        lon            REAL NOT NULL,
        at_ms          INTEGER NOT NULL,
        created_at_ms  INTEGER NOT NULL,
        hold_id        TEXT
      );
      CREATE INDEX reservations_by_station ON reservations (station_id, at_ms);
      CREATE INDEX reservations_by_vehicle ON reservations (vehicle_id, at_ms);

      CREATE TABLE holds (
        hold_id          TEXT PRIMARY KEY,
        station_id       TEXT NOT NULL,
        vehicle_id       TEXT NOT NULL,
        lat              REAL NOT NULL,
        lon              REAL NOT NULL,
        at_ms            INTEGER NOT NULL,
        expires_at_ms    INTEGER NOT NULL,
        tx_id            TEXT NOT NULL,
        tx_started_at_ms INTEGER NOT NULL,
        created_at_ms    INTEGER NOT NULL,
        reservation_id   TEXT
      );
      CREATE INDEX holds_by_station ON holds (station_id, at_ms);
      CREATE INDEX holds_by_tx ON holds (tx_id);
    `,
  },
]

export const LATEST_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0)
