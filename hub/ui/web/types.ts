/** The JSON the hub's /ui/api answers with (hub/ui/routes-data.ts, hub/ui/live/feed.ts). */
export interface StationView {
  id: string
  lat: number
  lon: number
  powerKw: number
  online: boolean
  status: string
  sessionId: string | null
  vehicleId: string | null
  powerW: number
  energyWh: number
  nextBookingAtMs: number | null
}

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
