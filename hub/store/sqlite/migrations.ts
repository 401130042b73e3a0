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
  {
    version: 2,
    name: 'federation: idempotency keys, coordinated trips, release queue, peer-hold ledger',
    sql: `
      CREATE TABLE idempotency_keys (
        scope          TEXT NOT NULL,
        key            TEXT NOT NULL,
        fingerprint    TEXT NOT NULL,
        state          TEXT NOT NULL,
        status         INTEGER,
        body           TEXT,
        created_at_ms  INTEGER NOT NULL,
        lease_until_ms INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
      );
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at_ms);

      CREATE TABLE trips (
        trip_id          TEXT PRIMARY KEY,
        vehicle_id       TEXT NOT NULL,
        route_id         TEXT NOT NULL,
        tx_started_at_ms INTEGER NOT NULL,
        attempt          INTEGER NOT NULL,
        state            TEXT NOT NULL,
        legs_json        TEXT NOT NULL,
        failure_json     TEXT,
        created_at_ms    INTEGER NOT NULL,
        updated_at_ms    INTEGER NOT NULL
      );
      CREATE INDEX trips_by_state ON trips (state, created_at_ms);
      CREATE INDEX trips_by_vehicle ON trips (vehicle_id);

      CREATE TABLE trip_releases (
        release_id      TEXT PRIMARY KEY,
        trip_id         TEXT NOT NULL,
        hub_id          TEXT NOT NULL,
        kind            TEXT NOT NULL,
        target_id       TEXT NOT NULL,
        vehicle_id      TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        until_ms        INTEGER,
        attempts        INTEGER NOT NULL,
        next_at_ms      INTEGER NOT NULL
      );

      CREATE TABLE peer_holds (
        hold_id        TEXT PRIMARY KEY,
        peer_hub_id    TEXT NOT NULL,
        state          TEXT NOT NULL,
        tx_id          TEXT,
        vehicle_id     TEXT,
        station_id     TEXT,
        lat            REAL,
        lon            REAL,
        at_ms          INTEGER,
        expires_at_ms  INTEGER,
        reservation_id TEXT,
        created_at_ms  INTEGER NOT NULL,
        updated_at_ms  INTEGER NOT NULL
      );
      CREATE INDEX peer_holds_by_age ON peer_holds (updated_at_ms);
    `,
  },
  {
    version: 3,
    name: 'charging: sessions, station events, acks, receipts',
    sql: `
      CREATE TABLE sessions (
        session_id          TEXT PRIMARY KEY,
        station_id          TEXT NOT NULL,
        vehicle_id          TEXT NOT NULL,
        reservation_id      TEXT,
        state               TEXT NOT NULL,
        started_at_ms       INTEGER NOT NULL,
        max_wh              INTEGER,
        meter_start_wh      INTEGER,
        meter_stop_wh       INTEGER,
        ended_at_ms         INTEGER,
        stop_reason         TEXT,
        price_minor_per_kwh INTEGER NOT NULL,
        currency            TEXT NOT NULL
      );
      -- One active session per station, guaranteed by the database itself.
      CREATE UNIQUE INDEX sessions_one_active_per_station ON sessions (station_id) WHERE state IN ('starting', 'charging');
      CREATE INDEX sessions_by_vehicle ON sessions (vehicle_id, started_at_ms);

      CREATE TABLE station_events (
        station_id     TEXT NOT NULL,
        seq            INTEGER NOT NULL,
        type           TEXT NOT NULL,
        body           TEXT NOT NULL,
        received_at_ms INTEGER NOT NULL,
        PRIMARY KEY (station_id, seq)
      );

      CREATE TABLE station_acks (
        station_id TEXT PRIMARY KEY,
        acked_seq  INTEGER NOT NULL
      );

      CREATE TABLE receipts (
        session_id          TEXT PRIMARY KEY,
        station_id          TEXT NOT NULL,
        vehicle_id          TEXT NOT NULL,
        started_at_ms       INTEGER NOT NULL,
        ended_at_ms         INTEGER NOT NULL,
        energy_wh           INTEGER NOT NULL,
        price_minor_per_kwh INTEGER NOT NULL,
        cost_minor          INTEGER NOT NULL,
        currency            TEXT NOT NULL
      );
      CREATE INDEX receipts_by_vehicle ON receipts (vehicle_id, ended_at_ms);
    `,
  },
  {
    version: 4,
    name: "charging: the station's own start and stop times, kept as reported",
    sql: `
      -- started_at_ms / ended_at_ms are the hub's clock; these are the station's \`ts\`, verbatim (RFC 3339 text).
      ALTER TABLE sessions ADD COLUMN station_started_at TEXT;
      ALTER TABLE sessions ADD COLUMN station_ended_at TEXT;
    `,
  },
  {
    version: 5,
    name: "charging: station events and acks per outbox epoch",
    sql: `
      -- A station's outbox epoch (docs/protocol.md, Events): a new outbox numbers from seq 1 again,
      -- so events are stored and acknowledged per (station, epoch). '' is the epoch-less stream
      -- of stations whose events carry none, and of every event stored before this migration.
      CREATE TABLE station_events_by_epoch (
        station_id     TEXT NOT NULL,
        epoch          TEXT NOT NULL,
        seq            INTEGER NOT NULL,
        type           TEXT NOT NULL,
        body           TEXT NOT NULL,
        received_at_ms INTEGER NOT NULL,
        PRIMARY KEY (station_id, epoch, seq)
      );
      INSERT INTO station_events_by_epoch (station_id, epoch, seq, type, body, received_at_ms)
        SELECT station_id, '', seq, type, body, received_at_ms FROM station_events;
      DROP TABLE station_events;
      ALTER TABLE station_events_by_epoch RENAME TO station_events;

      CREATE TABLE station_acks_by_epoch (
        station_id TEXT NOT NULL,
        epoch      TEXT NOT NULL,
        acked_seq  INTEGER NOT NULL,
        PRIMARY KEY (station_id, epoch)
      );
      INSERT INTO station_acks_by_epoch (station_id, epoch, acked_seq) SELECT station_id, '', acked_seq FROM station_acks;
      DROP TABLE station_acks;
      ALTER TABLE station_acks_by_epoch RENAME TO station_acks;
    `,
  },
  {
    version: 6,
    name: "charging: the operator's lists of receipts by end time and station, and of a station's events",
    sql: `
      CREATE INDEX receipts_by_end ON receipts (ended_at_ms);
      CREATE INDEX receipts_by_station_end ON receipts (station_id, ended_at_ms);
      CREATE INDEX station_events_by_received ON station_events (station_id, received_at_ms);
    `,
  },
  {
    version: 7,
    name: 'leases: which replica owns a trip, a release, the sweeper',
    sql: `
      -- hub/store/leases.ts: one row per piece of background work a replica owns until expires_at_ms.
      CREATE TABLE leases (
        name          TEXT PRIMARY KEY,
        owner         TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL
      );
      CREATE INDEX leases_by_owner ON leases (owner);
    `,
  },
  {
    version: 8,
    name: "roaming: sessions of this hub's vehicles at peers, and their stop queue",
    sql: `
      -- docs/protocol.md "Roaming": the home hub remembers at which peer a session runs, queues its stop
      -- while the peer is unreachable, and keeps the peer's receipt (JSON, protocol Receipt) once it arrives.
      CREATE TABLE roaming_sessions (
        session_id       TEXT PRIMARY KEY,
        hub_id           TEXT NOT NULL,
        vehicle_id       TEXT NOT NULL,
        station_id       TEXT NOT NULL,
        started_at_ms    INTEGER NOT NULL,
        meter_start_wh   INTEGER NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('open','stopping','stopped','failed')),
        stop_attempts    INTEGER NOT NULL DEFAULT 0,
        next_stop_at_ms  INTEGER,
        receipt          TEXT,
        ended_at_ms      INTEGER,
        fail_reason      TEXT
      );
      CREATE INDEX roaming_sessions_vehicle ON roaming_sessions (vehicle_id, ended_at_ms);
      CREATE INDEX roaming_sessions_stopping ON roaming_sessions (state) WHERE state = 'stopping';
    `,
  },
  {
    version: 9,
    name: 'accounts: vehicles and stations managed while the hub runs, enrollment codes, a change counter',
    sql: `
      -- password_hash is $scrypt$... (hub/broker/password-hash.ts); NULL for a station not yet enrolled.
      -- One id per account whatever its kind: brokers key permissions by username.
      CREATE TABLE accounts (
        id                  TEXT PRIMARY KEY,
        kind                TEXT NOT NULL CHECK (kind IN ('vehicle', 'station')),
        password_hash       TEXT,
        lat                 REAL,
        lon                 REAL,
        power_kw            REAL,
        price_minor_per_kwh INTEGER,
        created_at_ms       INTEGER NOT NULL,
        updated_at_ms       INTEGER NOT NULL
      );
      -- code_digest is the SHA-256 of a random one-time code; the code itself is never stored.
      CREATE TABLE enrollment_codes (
        station_id    TEXT PRIMARY KEY,
        code_digest   TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        used_at_ms    INTEGER
      );
      -- Bumped by every change to the two tables above, in the same transaction: hubs poll it.
      CREATE TABLE accounts_version (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
      );
      INSERT INTO accounts_version (id, version) VALUES (1, 0);
    `,
  },
  {
    version: 10,
    name: 'accounts: the password as an external Mosquitto checks it',
    sql: `
      -- $7$ PBKDF2-SHA512 (hub/broker/mosquitto-acl.ts), set with the password on a hub with mqtt.mosquitto; the hub
      -- writes it into Mosquitto's password file. Never clear text; NULL when no external Mosquitto is configured.
      ALTER TABLE accounts ADD COLUMN broker_hash TEXT;
    `,
  },
  {
    version: 11,
    name: 'holds and peer holds by vehicle, for the per-vehicle booking limit',
    sql: `
      -- The per-vehicle booking limit (hub/reservations/vehicle-limit.ts) counts a vehicle's live holds and its
      -- peers' live ledger entries on every booking: without these, each count would read every hold and entry.
      CREATE INDEX holds_by_vehicle ON holds (vehicle_id, expires_at_ms);
      CREATE INDEX peer_holds_by_vehicle ON peer_holds (vehicle_id, peer_hub_id);
    `,
  },
  {
    version: 12,
    name: 'idempotency keys: the owner of a running claim',
    sql: `
      -- Each run that claims a key names itself (a token per run): renew, complete and abandon act only for the
      -- claim's owner, so a run whose claim lapsed and was taken neither keeps it nor overwrites the answer stored
      -- by the run that took it (hub/store/idempotency.ts). Rows from before: owned by no run ('').
      ALTER TABLE idempotency_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 13,
    name: 'station events by age, for their retention',
    sql: `
      -- The retention (hub/charging/event-retention.ts) deletes the oldest events of every station in short
      -- batches; station_events_by_received leads with the station, so without this each batch scanned the table.
      CREATE INDEX station_events_by_age ON station_events (received_at_ms);
    `,
  },
  {
    version: 14,
    name: "station acks: when and in which order a station last used each stream, for their retention",
    sql: `
      -- The retention forgets an ack whose stream has no stored event left and was last used before its cutoff,
      -- unless it is among the station's most recently used streams (isForgettableStream, hub/store/charging-rules.ts).
      -- used_seq grows by one per event of the station, whatever the clock does. Rows from before take the time
      -- of their stream's newest stored event for both (0: none left), which every later use exceeds.
      ALTER TABLE station_acks ADD COLUMN used_at_ms INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE station_acks ADD COLUMN used_seq INTEGER NOT NULL DEFAULT 0;
      UPDATE station_acks SET used_at_ms = COALESCE((SELECT MAX(e.received_at_ms) FROM station_events e
        WHERE e.station_id = station_acks.station_id AND e.epoch = station_acks.epoch), 0);
      UPDATE station_acks SET used_seq = used_at_ms;
      CREATE INDEX station_acks_by_use ON station_acks (station_id, used_seq);
      CREATE INDEX station_acks_by_age ON station_acks (used_at_ms);
    `,
  },
  {
    version: 15,
    name: 'holds: no index by transaction',
    sql: `
      -- No query looks holds up by tx_id (wait-die compares the tx_started_at_ms of the holds that block a
      -- station, found by station): the index was written with every hold placed or released and never read.
      DROP INDEX IF EXISTS holds_by_tx;
    `,
  },
]

export const LATEST_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0)
