/**
 * How long the hub keeps the station events it stored (hub.json
 * `retention.stationEventsDays`), and how the sweeper deletes older ones:
 * what a station can make the hub keep is bounded, whoever made the station.
 *
 * The sweeper (hub/trips/federation.ts, one per database under its lease)
 * calls `deleteOldStationEvents` each pass. It deletes in batches of
 * `batch` rows, each one short write (ChargingStore.deleteStationEventsOlderThan),
 * giving the event loop a turn between batches, and stops after
 * `maxBatches`: a first sweep of a large backlog never holds SQLite's write
 * lock, a PostgreSQL transaction or the event loop for long, and what is
 * left goes at the next passes.
 *
 * Deleting an event forgets neither its ack nor that it was stored: one sent
 * again at or below its stream's ack is a repeat (isAcknowledged,
 * hub/store/charging-rules.ts), so no retention can make an event be stored
 * twice. The acks go too, in the same batches, once their stream has no
 * event left, was last used before the same cutoff, and is not among its
 * station's latest (`forgetStaleStationStreams`, isForgettableStream): a
 * station that makes epoch after epoch leaves one ack per stream only as
 * long as that stream's events are kept.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { ChargingStore } from '../store/index.js'

/** The default of hub.json `retention.stationEventsDays`: a quarter, beyond any dispute of a month's bill. */
export const DEFAULT_STATION_EVENTS_DAYS = 90

export const DAY_MS = 86_400_000

/** Events deleted by one write. */
export const STATION_EVENTS_BATCH = 2000

/** Most batches of one sweep: 100,000 events, the rest at the next sweep. */
export const STATION_EVENTS_MAX_BATCHES = 50

export interface EventRetentionOptions {
  /** Events deleted by one write. Default STATION_EVENTS_BATCH. */
  batch?: number
  /** Most batches of one call. Default STATION_EVENTS_MAX_BATCHES. */
  maxBatches?: number
}

/**
 * Delete the events received before `cutoffMs`, in batches, until a batch
 * finds fewer than `batch` or `maxBatches` have run. Resolves how many it
 * deleted.
 */
export function deleteOldStationEvents(store: Pick<ChargingStore, 'deleteStationEventsOlderThan'>, cutoffMs: number, opts: EventRetentionOptions = {}): Promise<number> {
  return inBatches((limit) => store.deleteStationEventsOlderThan(cutoffMs, limit), opts)
}

/**
 * Forget the acks of the streams isForgettableStream allows at `cutoffMs`
 * (after deleteOldStationEvents with the same cutoff), in the same batches.
 * Resolves how many it forgot.
 */
export function forgetStaleStationStreams(store: Pick<ChargingStore, 'forgetStationStreamsUnusedSince'>, cutoffMs: number, opts: EventRetentionOptions = {}): Promise<number> {
  return inBatches((limit) => store.forgetStationStreamsUnusedSince(cutoffMs, limit), opts)
}

/** `write(batch)` until it does fewer than `batch` rows or `maxBatches` have run, a turn of the event loop between. */
async function inBatches(write: (limit: number) => Promise<number>, opts: EventRetentionOptions): Promise<number> {
  const batch = opts.batch ?? STATION_EVENTS_BATCH
  const maxBatches = opts.maxBatches ?? STATION_EVENTS_MAX_BATCHES
  let done = 0
  for (let i = 0; i < maxBatches; i++) {
    const n = await write(batch)
    done += n
    if (n < batch) break
    // SQLite runs each batch synchronously: let requests and station events in between.
    await nextTurn()
  }
  return done
}
