/**
 * TripStore on PostgreSQL: the tables of the SQLite store (a trip is one
 * row, its legs JSON text the database never looks inside). `saveTrip` is
 * one compare-and-set UPDATE plus its releases in one transaction; a
 * peer-hold transition reads the entry, decides with peer-hold-rules.ts and
 * writes it only if the row is still the version it read (compare-and-set
 * on `xmin`), so replicas handling the same hold id serialize on its row
 * and a loser decides again on the winner's entry.
 *
 * Per turn, not per call: the reads by id (RowsByKey), the trips created and
 * the fresh peer-hold entries asked during one turn of the event loop (the
 * trips a hub coordinates and the holds its peers place, many in flight) are
 * one statement each over arrays, rows in id order; a batch whose statement
 * fails runs again one row at a time, so each caller gets what it gets alone.
 */
import { recordCancelled, recordConfirmed, recordPlaced, recordReleased, type PeerHoldStep } from '../peer-hold-rules.js'
import type {
  PeerHoldRecord,
  RecordPeerHoldInput,
  ReleaseTask,
  SaveTripOptions,
  TripRecord,
  TripState,
  TripStore,
} from '../trips.js'
import type { PgDatabase, Tx } from './pool.js'
import { RowsByKey } from './rows-by-key.js'
import { asStored, byKey, firstPerKey } from './batch-keys.js'
import { TurnBatch, type Asked } from '../../../base/turn-batch.js'
import type { PgVehicleCounts } from './vehicle-counts.js'
import { toPeerHold, toRelease, toTrip, type PeerHoldRow, type ReleaseRow, type TripRow } from '../sql-rows.js'
import { oneQuestionMayCause } from './errors.js'

const failureJson = (t: TripRecord): string | null => (t.failure === null ? null : JSON.stringify(t.failure))

/** What a save writes of `t`, as SAVE_TRIP's $1-$7 and SAVE_TRIPS's columns. */
const savedColumns = (t: TripRecord): unknown[] => [t.txStartedAtMs, t.attempt, t.state, JSON.stringify(t.legs), failureJson(t), t.updatedAtMs, t.tripId]

/**
 * New entries of one turn, one array per column, in hold id order: each inserted only if its id
 * is still free (a racing writer's entry makes it insert nothing). Returns the ids it inserted.
 */
const INSERT_PEER_HOLDS = `
  INSERT INTO peer_holds (hold_id, peer_hub_id, state, tx_id, vehicle_id, station_id, lat, lon, at_ms, expires_at_ms, reservation_id, created_at_ms, updated_at_ms)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[],
                       $9::bigint[], $10::bigint[], $11::text[], $12::bigint[], $13::bigint[])
      ON CONFLICT (hold_id) DO NOTHING
  RETURNING hold_id`

/** Trips created during one turn: one array per column, in trip id order. */
const INSERT_TRIPS = `
  INSERT INTO trips (trip_id, vehicle_id, route_id, tx_started_at_ms, attempt, state, legs_json, failure_json, created_at_ms, updated_at_ms)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[])`

/**
 * The entry as read, with its row version: `xmin`, the transaction that wrote
 * this version of the row, changes with every committed UPDATE.
 */
const READ_PEER_HOLDS = 'SELECT *, xmin::text AS version FROM peer_holds WHERE hold_id = ANY($1::text[])'

const SAVE_TRIP = `
  UPDATE trips SET tx_started_at_ms = $1, attempt = $2, state = $3, legs_json = $4, failure_json = $5, updated_at_ms = $6
   WHERE trip_id = $7 AND ($8::text[] IS NULL OR state = ANY($8::text[]))`

/** Saves of one turn without releases, as SAVE_TRIP over arrays: $1-$6 the columns, $7 ids, $8 each save's allowed states joined by ',' (NULL: any); returns the ids saved. */
const SAVE_TRIPS = `
  WITH v AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])
        AS v (tx_started_at_ms, attempt, state, legs_json, failure_json, updated_at_ms, trip_id, from_states)
  ), locked AS (
    -- The rows locked in trip id order, before the UPDATE writes any (its plan's order is not the arrays').
    SELECT t.trip_id FROM trips t WHERE t.trip_id IN (SELECT trip_id FROM v) ORDER BY t.trip_id FOR NO KEY UPDATE
  )
  UPDATE trips t SET tx_started_at_ms = v.tx_started_at_ms, attempt = v.attempt, state = v.state, legs_json = v.legs_json,
         failure_json = v.failure_json, updated_at_ms = v.updated_at_ms
    FROM v
   WHERE t.trip_id = v.trip_id AND t.trip_id IN (SELECT trip_id FROM locked)
     AND (v.from_states IS NULL OR t.state = ANY(string_to_array(v.from_states, ',')))
  RETURNING t.trip_id`

/**
 * Compare-and-set writes of one turn: each row is written only if it is still the version read ($14);
 * a concurrent writer's commit makes it write nothing for that row. Returns the ids written.
 */
const UPDATE_PEER_HOLDS = `
  WITH v AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[],
                         $9::bigint[], $10::bigint[], $11::text[], $12::bigint[], $13::bigint[], $14::text[])
        AS v (hold_id, peer_hub_id, state, tx_id, vehicle_id, station_id, lat, lon, at_ms, expires_at_ms, reservation_id, created_at_ms, updated_at_ms, version)
  ), locked AS (
    -- The rows locked in hold id order, before the UPDATE writes any (its plan's order is not the arrays').
    SELECT p.hold_id FROM peer_holds p WHERE p.hold_id IN (SELECT hold_id FROM v) ORDER BY p.hold_id FOR NO KEY UPDATE
  )
  UPDATE peer_holds p SET peer_hub_id = v.peer_hub_id, state = v.state, tx_id = v.tx_id, vehicle_id = v.vehicle_id, station_id = v.station_id,
         lat = v.lat, lon = v.lon, at_ms = v.at_ms, expires_at_ms = v.expires_at_ms, reservation_id = v.reservation_id,
         created_at_ms = v.created_at_ms, updated_at_ms = v.updated_at_ms
    FROM v
   WHERE p.hold_id = v.hold_id AND p.hold_id IN (SELECT hold_id FROM locked) AND p.xmin = v.version::xid
  RETURNING p.hold_id`

interface TripSave {
  trip: TripRecord
  fromStates: readonly TripState[] | null
}



export class PgTripStore implements TripStore {
  readonly #db: PgDatabase
  /** Peer-hold entries and trips read by id, each turn's reads in one statement. */
  readonly #peerHolds: RowsByKey<PeerHoldRow & { version: string }>
  readonly #trips: RowsByKey<TripRow>
  /** Trips created and fresh peer-hold entries inserted during one turn: one statement each (a failed batch runs again one row at a time). */
  readonly #tripInserts: TurnBatch<TripRecord, void>
  readonly #counts: PgVehicleCounts
  readonly #peerHoldInserts: TurnBatch<PeerHoldRecord, boolean>
  /** Trip saves without releases and peer-hold compare-and-set writes of one turn: one statement each. */
  readonly #tripSaves: TurnBatch<TripSave, boolean>
  readonly #peerHoldUpdates: TurnBatch<{ entry: PeerHoldRecord; version: string }, boolean>

  constructor(db: PgDatabase, counts: PgVehicleCounts) {
    this.#db = db
    this.#counts = counts
    this.#peerHolds = new RowsByKey((text, values) => db.query(text, values), READ_PEER_HOLDS, (r) => r.hold_id)
    this.#trips = new RowsByKey((text, values) => db.query(text, values), 'SELECT * FROM trips WHERE trip_id = ANY($1::text[])', (r) => r.trip_id)
    this.#tripInserts = new TurnBatch((batch) => this.#insertTrips(batch), { aloneOnFailure: oneQuestionMayCause })
    this.#peerHoldInserts = new TurnBatch((batch) => this.#insertPeerHolds(batch), { aloneOnFailure: oneQuestionMayCause })
    this.#tripSaves = new TurnBatch((batch) => this.#saveTrips(batch), { aloneOnFailure: oneQuestionMayCause })
    this.#peerHoldUpdates = new TurnBatch((batch) => this.#updatePeerHolds(batch), { aloneOnFailure: oneQuestionMayCause })
  }

  createTrip(trip: TripRecord): Promise<void> {
    return this.#tripInserts.ask(trip)
  }

  async #insertTrips(batch: Asked<TripRecord, void>[]): Promise<void> {
    const trips = batch.map((a) => a.question).sort(byKey((t) => t.tripId))
    const columns = (t: TripRecord): unknown[] => [t.tripId, t.vehicleId, t.routeId, t.txStartedAtMs, t.attempt, t.state, JSON.stringify(t.legs), failureJson(t), t.createdAtMs, t.updatedAtMs]
    // An id used before (or twice in the batch) fails the statement: the batch then runs one trip at a time.
    await this.#db.query(INSERT_TRIPS, transpose(trips.map(columns), 10))
    for (const a of batch) a.resolve()
  }

  async saveTrip(trip: TripRecord, opts: SaveTripOptions = {}): Promise<boolean> {
    // Compare-and-set in one statement: the row lock it takes orders concurrent saves of one trip.
    const save = { trip, fromStates: opts.fromStates ?? null }
    const releases = opts.releases ?? []
    // Without releases the UPDATE is the whole write: no transaction around it, and batched with the turn's others.
    if (releases.length === 0) return this.#tripSaves.ask(save)
    return this.#db.tx(async (tx) => {
      if ((await tx.query(SAVE_TRIP, saveValues(save))).rowCount !== 1) return false
      await insertReleases(tx, releases)
      return true
    })
  }

  /**
   * The saves of one turn in one UPDATE; a trip saved twice in the turn: its first save there, each
   * later one alone after it in the order asked (each compares against the state the one before left).
   */
  async #saveTrips(batch: Asked<TripSave, boolean>[]): Promise<void> {
    const { first, later } = firstPerKey(batch, (a) => a.question.trip.tripId)
    const rows = first.map(({ question: q }) => [...savedColumns(q.trip), q.fromStates ? q.fromStates.join(',') : null])
    const saved = new Set((await this.#db.query<{ trip_id: string }>(SAVE_TRIPS, transpose(rows, 8))).rows.map((r) => r.trip_id))
    for (const a of first) a.resolve(saved.has(asStored(a.question.trip.tripId)))
    for (const a of later) a.resolve((await this.#db.query(SAVE_TRIP, saveValues(a.question))).rowCount === 1)
  }

  async getTrip(tripId: string): Promise<TripRecord | null> {
    const row = await this.#trips.get(tripId)
    return row ? toTrip(row) : null
  }

  async listTrips(states: readonly TripState[]): Promise<TripRecord[]> {
    this.#db.guard()
    if (states.length === 0) return []
    const res = await this.#db.query<TripRow>('SELECT * FROM trips WHERE state = ANY($1::text[]) ORDER BY created_at_ms, trip_id', [[...states]])
    return res.rows.map(toTrip)
  }

  async listVehicleTrips(vehicleId: string, limit: number): Promise<TripRecord[]> {
    const res = await this.#db.query<TripRow>('SELECT * FROM trips WHERE vehicle_id = $1 ORDER BY created_at_ms DESC, trip_id DESC LIMIT $2', [vehicleId, limit])
    return res.rows.map(toTrip)
  }

  async addReleases(tasks: readonly ReleaseTask[]): Promise<void> {
    this.#db.guard()
    if (tasks.length > 0) await this.#db.tx((tx) => insertReleases(tx, tasks))
  }

  async listReleases(): Promise<ReleaseTask[]> {
    return (await this.#db.query<ReleaseRow>('SELECT * FROM trip_releases ORDER BY next_at_ms, release_id')).rows.map(toRelease)
  }

  async rescheduleRelease(releaseId: string, attempts: number, nextAtMs: number): Promise<void> {
    await this.#db.query('UPDATE trip_releases SET attempts = $1, next_at_ms = $2 WHERE release_id = $3', [attempts, nextAtMs, releaseId])
  }

  async deleteRelease(releaseId: string): Promise<void> {
    await this.#db.query('DELETE FROM trip_releases WHERE release_id = $1', [releaseId])
  }

  async recordPeerHold(input: RecordPeerHoldInput): Promise<PeerHoldRecord | null> {
    // Callers record a hold they just placed under a fresh id: try the unknown-id case's insert first (one statement).
    const step = recordPlaced(null, input)
    if (step.next && (await this.#peerHoldInserts.ask(step.next))) return step.answer
    return this.#transition(input.holdId, (cur) => recordPlaced(cur, input))
  }

  /** Resolves true for each entry the batch's UPDATE wrote; of one id asked twice, only the first asked can be (a later one reads again). */
  async #updatePeerHolds(batch: Asked<{ entry: PeerHoldRecord; version: string }, boolean>[]): Promise<void> {
    const { first, later } = firstPerKey(batch, (a) => a.question.entry.holdId)
    const rows = first.map(({ question: q }) => [...peerHoldValues(q.entry), q.version])
    const written = new Set((await this.#db.query<{ hold_id: string }>(UPDATE_PEER_HOLDS, transpose(rows, 14))).rows.map((r) => r.hold_id))
    for (const a of first) a.resolve(written.has(asStored(a.question.entry.holdId)))
    for (const a of later) a.resolve(false)
  }

  /** Resolves true for each entry the batch's INSERT inserted; of one id asked twice, only the first asked can be. */
  async #insertPeerHolds(batch: Asked<PeerHoldRecord, boolean>[]): Promise<void> {
    const { first, later } = firstPerKey(batch, (a) => a.question.holdId)
    const rows = first.map((a) => peerHoldValues(a.question))
    const inserted = new Set((await this.#db.query<{ hold_id: string }>(INSERT_PEER_HOLDS, transpose(rows, 13))).rows.map((r) => r.hold_id))
    for (const a of first) a.resolve(inserted.has(asStored(a.question.holdId)))
    for (const a of later) a.resolve(false)
  }

  peerHoldCancelled(input: { holdId: string; nowMs: number }): Promise<void> {
    return this.#transition(input.holdId, (cur) => recordCancelled(cur, input.nowMs))
  }

  peerHoldConfirmed(input: { holdId: string; reservationId: string; nowMs: number }): Promise<boolean> {
    return this.#transition(input.holdId, (cur) => recordConfirmed(cur, input.reservationId, input.nowMs))
  }

  releasePeerHold(input: { holdId: string; peerHubId: string; nowMs: number }): Promise<PeerHoldRecord | null | 'foreign'> {
    return this.#transition(input.holdId, (cur) => recordReleased(cur, input))
  }

  async getPeerHold(holdId: string): Promise<PeerHoldRecord | null> {
    const row = await this.#peerHolds.get(holdId)
    return row ? toPeerHold(row) : null
  }

  async countPeerVehicleHolds(q: { peerHubId?: string; vehicleId: string; fromMs: number; nowMs: number }): Promise<number> {
    this.#db.guard()
    // With the other counts of this turn, of both kinds, in one round trip (./vehicle-counts.ts).
    return this.#counts.peerHolds(q)
  }

  async deletePeerHoldsOlderThan(cutoffMs: number): Promise<number> {
    // rule: isStalePeerHold (peer-hold-rules.ts), as one DELETE for housekeeping
    const res = await this.#db.query(
      `DELETE FROM peer_holds
        WHERE (state <> 'confirmed' AND updated_at_ms < $1)
           OR (state = 'confirmed' AND COALESCE(at_ms, 0) < $1 AND updated_at_ms < $1)`,
      [cutoffMs],
    )
    return res.rowCount ?? 0
  }

  /**
   * Read the entry, decide with a peer-hold rule and write what it says, each
   * write conditional on the entry read: an unknown id's entry is inserted
   * only if the id is still free, a known one updated only if its row is the
   * version read. When a racing writer got there first the transition runs
   * again on its entry. Two statements, no transaction: the same outcome as
   * reading FOR UPDATE inside BEGIN ... COMMIT, in half the round trips.
   */
  async #transition<A>(holdId: string, decide: (cur: PeerHoldRecord | null) => PeerHoldStep<A>): Promise<A> {
    for (;;) {
      const row = await this.#peerHolds.get(holdId)
      const step = decide(row ? toPeerHold(row) : null)
      const r = step.next
      if (!r) return step.answer
      const written = row ? await this.#peerHoldUpdates.ask({ entry: r, version: row.version }) : await this.#peerHoldInserts.ask(r)
      if (written) return step.answer
    }
  }
}

/** SAVE_TRIP's parameters for one save. */
function saveValues(s: TripSave): unknown[] {
  return [...savedColumns(s.trip), s.fromStates ? [...s.fromStates] : null]
}

/** `rows` of `width` values each, as one array per column (the parameters of an `unnest` over arrays). */
function transpose(rows: readonly unknown[][], width: number): unknown[][] {
  return Array.from({ length: width }, (_, i) => rows.map((r) => r[i]))
}

function peerHoldValues(r: PeerHoldRecord): unknown[] {
  return [
    r.holdId, r.peerHubId, r.state, r.txId, r.vehicleId, r.stationId, r.position?.lat ?? null, r.position?.lon ?? null,
    r.atMs, r.expiresAtMs, r.reservationId, r.createdAtMs, r.updatedAtMs,
  ]
}

async function insertReleases(tx: Tx, tasks: readonly ReleaseTask[]): Promise<void> {
  for (const r of tasks) {
    await tx.query(
      `INSERT INTO trip_releases (release_id, trip_id, hub_id, kind, target_id, vehicle_id, idempotency_key, until_ms, attempts, next_at_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (release_id) DO NOTHING`,
      [r.releaseId, r.tripId, r.hubId, r.kind, r.targetId, r.vehicleId, r.idempotencyKey, r.untilMs, r.attempts, r.nextAtMs],
    )
  }
}
