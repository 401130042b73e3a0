/** The JSON the hub's /ui/api answers with (hub/ui/routes-data.ts, hub/ui/live/feed.ts). */
import type { StationView } from '../wire.js'

export type { StationView }

export interface JournalEntry {
  seq: number
  atMs: number
  stationId: string
  kind: string
  text: string
}

export interface PowerPoint {
  sessionId: string
  stationId: string
  t: number
  powerW: number
  meterWh: number
}

export interface FeedPatch {
  t: number
  stations: StationView[]
  journal: JournalEntry[]
  power: PowerPoint[]
  bookingsVersion: number
}

export interface Receipt {
  sessionId: string
  stationId: string
  vehicleId: string
  startedAt: string
  endedAt: string
  energyWh: number
  costMinor: number
  currency: string
}
