/**
 * A station's events for its page: what the station reported, read from the
 * store (`listStationEvents`), so a restart of the hub does not empty it,
 * merged with what only the dashboard's journal knows (clock skew noticed,
 * operator actions). Newest first, at most `limit`.
 */
import { parseJsonObject, StationEvent } from '../../../protocol/index.js'
import type { Store, StoredStationEvent } from '../../store/index.js'
import { describeEvent } from './event-text.js'
import type { Journal, JournalEntry, JournalKind } from './journal.js'

/** Journal kinds the store keeps as station events; the journal's copies of them are not shown twice. */
const STORED: ReadonlySet<JournalKind> = new Set(['fault', 'session.started', 'session.stopped'])

function toEntry(e: StoredStationEvent): JournalEntry[] {
  const json = parseJsonObject(e.body)
  const ev = json.ok ? StationEvent.safeParse(json.value) : null
  if (!ev?.success) return []
  // Stored entries are not part of the live feed's sequence: seq 0.
  return [{ seq: 0, atMs: e.receivedAtMs, stationId: e.stationId, ...describeEvent(ev.data) }]
}

export async function stationHistory(store: Store, journal: Journal, stationId: string, limit: number): Promise<JournalEntry[]> {
  const stored = (await store.charging.listStationEvents(stationId, limit)).flatMap(toEntry)
  const noted = journal.recent(stationId, limit).filter((e) => !STORED.has(e.kind))
  return [...stored, ...noted].sort((a, b) => b.atMs - a.atMs).slice(0, limit)
}
