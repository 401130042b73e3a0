/**
 * Schema migrations of the PostgreSQL store, applied in order; the table
 * `voltway_schema` records each one applied. Append-only: never edit or
 * reorder a migration that has shipped, add a new one.
 *
 * The tables translate hub/store/sqlite/migrations.ts (same names and
 * columns; BIGINT epoch ms, DOUBLE PRECISION coordinates so a position reads
 * back exactly), plus what lets the database itself keep the rules when
 * several hub replicas write at once:
 *
 * - `booking_slots`: one row per booking that blocks its station (every
 *   reservation, every unconfirmed hold not yet found expired), under an
 *   EXCLUDE constraint. Exclusion constraints work within one table, and a
 *   reservation must exclude a hold as much as another reservation, so the
 *   slots of both live here, each pointing at its owner (ON DELETE CASCADE:
 *   cancelling a reservation or deleting a hold frees its slot with no
 *   extra statement). Holds expire by the caller's clock, which a
 *   constraint cannot read: a booking transaction deletes the slots of the
 *   expired holds of its candidate stations before it inserts (see
 *   ./reservations.ts); the hold rows stay until housekeeping.
 * - `sessions_one_active_per_station`, the primary keys of `station_events`
 *   and `idempotency_keys`: as in SQLite.
 */
import { PICK_REFUSED } from './errors.js'

export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'reservations, holds and their slots; federation; charging',
    sql: `
      CREATE TABLE reservations (
        reservation_id TEXT PRIMARY KEY,
        station_id     TEXT NOT NULL,
        vehicle_id     TEXT NOT NULL,
        lat            DOUBLE PRECISION NOT NULL,
        lon            DOUBLE PRECISION NOT NULL,
        at_ms          BIGINT NOT NULL,
        created_at_ms  BIGINT NOT NULL,
        hold_id        TEXT
      );
      CREATE INDEX reservations_by_station ON reservations (station_id, at_ms);
      CREATE INDEX reservations_by_vehicle ON reservations (vehicle_id, at_ms);

      CREATE TABLE holds (
        hold_id          TEXT PRIMARY KEY,
        station_id       TEXT NOT NULL,
        vehicle_id       TEXT NOT NULL,
        lat              DOUBLE PRECISION NOT NULL,
        lon              DOUBLE PRECISION NOT NULL,
        at_ms            BIGINT NOT NULL,
        expires_at_ms    BIGINT NOT NULL,
        tx_id            TEXT NOT NULL,
        tx_started_at_ms BIGINT NOT NULL,
        created_at_ms    BIGINT NOT NULL,
        reservation_id   TEXT,
        -- The window the hold was placed with: confirming re-creates its slot from it if a writer
        -- with a later clock found the hold expired and freed the slot meanwhile.
        window_ms        BIGINT NOT NULL
      );
      CREATE INDEX holds_by_station ON holds (station_id, at_ms);
      CREATE INDEX holds_by_tx ON holds (tx_id);
      CREATE INDEX holds_unconfirmed_by_expiry ON holds (expires_at_ms) WHERE reservation_id IS NULL;

      CREATE TABLE booking_slots (
        station_id     TEXT NOT NULL,
        at_ms          BIGINT NOT NULL,
        window_ms      BIGINT NOT NULL CHECK (window_ms >= 0),
        -- rule: withinWindow (booking-rules.ts). Half the window on each side of at_ms, half-open:
        -- [a1 - w/2, a1 + w/2) && [a2 - w/2, a2 + w/2)  <=>  |a1 - a2| < w, so exactly w apart does not overlap.
        -- numeric keeps the half millisecond of an odd window exact; a zero window is an empty range, which overlaps nothing.
        slot           NUMRANGE GENERATED ALWAYS AS (numrange(at_ms - window_ms / 2.0, at_ms + window_ms / 2.0, '[)')) STORED,
        -- Deferred, so one statement can insert the slot first and its owner only if the slot was free.
        reservation_id TEXT UNIQUE REFERENCES reservations (reservation_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
        hold_id        TEXT UNIQUE REFERENCES holds (hold_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
        CONSTRAINT booking_slots_one_owner CHECK ((reservation_id IS NULL) <> (hold_id IS NULL)),
        CONSTRAINT booking_slots_window EXCLUDE USING gist (station_id WITH =, slot WITH &&)
      );

      CREATE TABLE idempotency_keys (
        scope          TEXT NOT NULL,
        key            TEXT NOT NULL,
        fingerprint    TEXT NOT NULL,
        state          TEXT NOT NULL,
        status         INTEGER,
        body           TEXT,
        created_at_ms  BIGINT NOT NULL,
        lease_until_ms BIGINT NOT NULL,
        PRIMARY KEY (scope, key)
      );
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at_ms);

      CREATE TABLE trips (
        trip_id          TEXT PRIMARY KEY,
        vehicle_id       TEXT NOT NULL,
        route_id         TEXT NOT NULL,
        tx_started_at_ms BIGINT NOT NULL,
        attempt          INTEGER NOT NULL,
        state            TEXT NOT NULL,
        legs_json        TEXT NOT NULL,
        failure_json     TEXT,
        created_at_ms    BIGINT NOT NULL,
        updated_at_ms    BIGINT NOT NULL
      );
      CREATE INDEX trips_by_state ON trips (state, created_at_ms);
      CREATE INDEX trips_by_vehicle_created ON trips (vehicle_id, created_at_ms);
      CREATE INDEX trips_by_vehicle ON trips (vehicle_id);

      CREATE TABLE trip_releases (
        release_id      TEXT PRIMARY KEY,
        trip_id         TEXT NOT NULL,
        hub_id          TEXT NOT NULL,
        kind            TEXT NOT NULL,
        target_id       TEXT NOT NULL,
        vehicle_id      TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        until_ms        BIGINT,
        attempts        INTEGER NOT NULL,
        next_at_ms      BIGINT NOT NULL
      );

      CREATE TABLE peer_holds (
        hold_id        TEXT PRIMARY KEY,
        peer_hub_id    TEXT NOT NULL,
        state          TEXT NOT NULL,
        tx_id          TEXT,
        vehicle_id     TEXT,
        station_id     TEXT,
        lat            DOUBLE PRECISION,
        lon            DOUBLE PRECISION,
        at_ms          BIGINT,
        expires_at_ms  BIGINT,
        reservation_id TEXT,
        created_at_ms  BIGINT NOT NULL,
        updated_at_ms  BIGINT NOT NULL
      );
      CREATE INDEX peer_holds_by_age ON peer_holds (updated_at_ms);

      CREATE TABLE sessions (
        session_id          TEXT PRIMARY KEY,
        station_id          TEXT NOT NULL,
        vehicle_id          TEXT NOT NULL,
        reservation_id      TEXT,
        state               TEXT NOT NULL,
        started_at_ms       BIGINT NOT NULL,
        max_wh              BIGINT,
        meter_start_wh      BIGINT,
        meter_stop_wh       BIGINT,
        ended_at_ms         BIGINT,
        stop_reason         TEXT,
        price_minor_per_kwh BIGINT NOT NULL,
        currency            TEXT NOT NULL,
        -- started_at_ms / ended_at_ms are the hub's clock; these are the station's \`ts\`, verbatim (RFC 3339 text).
        station_started_at  TEXT,
        station_ended_at    TEXT
      );
      -- rule: isActive (charging-rules.ts): one active session per station, guaranteed by the database itself.
      CREATE UNIQUE INDEX sessions_one_active_per_station ON sessions (station_id) WHERE state IN ('starting', 'charging');
      CREATE INDEX sessions_by_vehicle ON sessions (vehicle_id, started_at_ms);

      -- Each station event once: the primary key.
      -- Per outbox epoch (docs/protocol.md, Events): '' is the epoch-less stream of stations that send none.
      CREATE TABLE station_events (
        station_id     TEXT NOT NULL,
        epoch          TEXT NOT NULL,
        seq            BIGINT NOT NULL,
        type           TEXT NOT NULL,
        body           TEXT NOT NULL,
        received_at_ms BIGINT NOT NULL,
        PRIMARY KEY (station_id, epoch, seq)
      );

      CREATE TABLE station_acks (
        station_id TEXT NOT NULL,
        epoch      TEXT NOT NULL,
        acked_seq  BIGINT NOT NULL,
        PRIMARY KEY (station_id, epoch)
      );

      CREATE TABLE receipts (
        session_id          TEXT PRIMARY KEY,
        station_id          TEXT NOT NULL,
        vehicle_id          TEXT NOT NULL,
        started_at_ms       BIGINT NOT NULL,
        ended_at_ms         BIGINT NOT NULL,
        energy_wh           BIGINT NOT NULL,
        price_minor_per_kwh BIGINT NOT NULL,
        cost_minor          BIGINT NOT NULL,
        currency            TEXT NOT NULL
      );
      CREATE INDEX receipts_by_vehicle ON receipts (vehicle_id, ended_at_ms);
      CREATE INDEX receipts_by_end ON receipts (ended_at_ms);
      CREATE INDEX receipts_by_station_end ON receipts (station_id, ended_at_ms);
      CREATE INDEX station_events_by_received ON station_events (station_id, received_at_ms);

      -- docs/protocol.md "Roaming": the home hub remembers at which peer a session runs, queues its stop
      -- while the peer is unreachable, and keeps the peer's receipt (JSON, protocol Receipt) once it arrives.
      CREATE TABLE roaming_sessions (
        session_id       TEXT PRIMARY KEY,
        hub_id           TEXT NOT NULL,
        vehicle_id       TEXT NOT NULL,
        station_id       TEXT NOT NULL,
        started_at_ms    BIGINT NOT NULL,
        meter_start_wh   BIGINT NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('open','stopping','stopped','failed')),
        stop_attempts    INTEGER NOT NULL DEFAULT 0,
        next_stop_at_ms  BIGINT,
        receipt          TEXT,
        ended_at_ms      BIGINT,
        fail_reason      TEXT
      );
      CREATE INDEX roaming_sessions_vehicle ON roaming_sessions (vehicle_id, ended_at_ms);
      CREATE INDEX roaming_sessions_stopping ON roaming_sessions (state) WHERE state = 'stopping';

      -- Accounts (hub/store/accounts.ts): password_hash is $scrypt$... (hub/broker/password-hash.ts); NULL for a
      -- station not yet enrolled. One id per account whatever its kind: brokers key permissions by username.
      CREATE TABLE accounts (
        id                  TEXT PRIMARY KEY,
        kind                TEXT NOT NULL CHECK (kind IN ('vehicle', 'station')),
        password_hash       TEXT,
        lat                 DOUBLE PRECISION,
        lon                 DOUBLE PRECISION,
        power_kw            DOUBLE PRECISION,
        price_minor_per_kwh BIGINT,
        created_at_ms       BIGINT NOT NULL,
        updated_at_ms       BIGINT NOT NULL
      );
      -- code_digest is the SHA-256 of a random one-time code; the code itself is never stored.
      CREATE TABLE enrollment_codes (
        station_id    TEXT PRIMARY KEY,
        code_digest   TEXT NOT NULL,
        expires_at_ms BIGINT NOT NULL,
        used_at_ms    BIGINT
      );
      -- Bumped by every change to the two tables above, in the same transaction: replicas poll it.
      CREATE TABLE accounts_version (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        version BIGINT NOT NULL
      );
      INSERT INTO accounts_version (id, version) VALUES (1, 0);

      -- hub/store/leases.ts: one row per piece of background work a replica owns until expires_at_ms.
      CREATE TABLE leases (
        name          TEXT PRIMARY KEY,
        owner         TEXT NOT NULL,
        expires_at_ms BIGINT NOT NULL
      );
      CREATE INDEX leases_by_owner ON leases (owner);
    `,
  },
  {
    version: 2,
    name: 'accounts: the password as an external Mosquitto checks it',
    sql: `
      -- $7$ PBKDF2-SHA512 (hub/broker/mosquitto-acl.ts), set with the password on a hub with mqtt.mosquitto; the hub
      -- writes it into Mosquitto's password file. Never clear text; NULL when no external Mosquitto is configured.
      ALTER TABLE accounts ADD COLUMN broker_hash TEXT;
    `,
  },
  {
    version: 3,
    name: 'holds and peer holds by vehicle, for the per-vehicle booking limit',
    sql: `
      -- The per-vehicle booking limit (hub/reservations/vehicle-limit.ts) counts a vehicle's live holds and its
      -- peers' live ledger entries on every booking: without these, each count would read every hold and entry.
      CREATE INDEX holds_by_vehicle ON holds (vehicle_id, expires_at_ms);
      CREATE INDEX peer_holds_by_vehicle ON peer_holds (vehicle_id, peer_hub_id);
    `,
  },
  {
    version: 4,
    name: 'idempotency keys: the owner of a running claim',
    sql: `
      -- Each run that claims a key names itself (a token per run): renew, complete and abandon act only for the
      -- claim's owner, so a run whose claim lapsed and was taken neither keeps it nor overwrites the answer stored
      -- by the run that took it (hub/store/idempotency.ts). Rows from before: owned by no run ('').
      ALTER TABLE idempotency_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 5,
    name: 'a batch of bookings refused whole in its one statement',
    sql: `
      -- Called by BOOK_BATCH (./reservations.ts) when the constraint refused one of its picks: the error
      -- (SQLSTATE ${PICK_REFUSED}) rolls back the whole statement, which so needs no BEGIN ... COMMIT around it.
      CREATE FUNCTION voltway_pick_refused(i int) RETURNS int LANGUAGE plpgsql VOLATILE AS $fn$
      BEGIN
        RAISE EXCEPTION 'booking % of the batch: the booking window constraint refused its pick', i USING ERRCODE = '${PICK_REFUSED}';
      END
      $fn$;
    `,
  },
  {
    version: 6,
    name: 'station events by age, for their retention',
    sql: `
      -- The retention (hub/charging/event-retention.ts) deletes the oldest events of every station in short
      -- batches; station_events_by_received leads with the station, so without this each batch scanned the table.
      CREATE INDEX station_events_by_age ON station_events (received_at_ms);
    `,
  },
  {
    version: 7,
    name: "station acks: when and in which order a station last used each stream, for their retention",
    sql: `
      -- The retention forgets an ack whose stream has no stored event left and was last used before its cutoff,
      -- unless it is among the station's most recently used streams (isForgettableStream, hub/store/charging-rules.ts).
      -- used_seq grows by one per event of the station, whatever the clock does. Rows from before take the time
      -- of their stream's newest stored event for both (0: none left), which every later use exceeds.
      ALTER TABLE station_acks ADD COLUMN used_at_ms BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE station_acks ADD COLUMN used_seq BIGINT NOT NULL DEFAULT 0;
      UPDATE station_acks SET used_at_ms = COALESCE((SELECT MAX(e.received_at_ms) FROM station_events e
        WHERE e.station_id = station_acks.station_id AND e.epoch = station_acks.epoch), 0);
      UPDATE station_acks SET used_seq = used_at_ms;
      CREATE INDEX station_acks_by_use ON station_acks (station_id, used_seq);
      CREATE INDEX station_acks_by_age ON station_acks (used_at_ms);
    `,
  },
  {
    version: 8,
    name: 'holds: no index by transaction',
    sql: `
      -- No query looks holds up by tx_id (wait-die compares the tx_started_at_ms of the holds that block a
      -- station, found by station): the index was written with every hold placed or released and never read.
      DROP INDEX IF EXISTS holds_by_tx;
    `,
  },
]

export const LATEST_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0)
