/** Shapes the dashboard's server sends and its browser code reads (type-only: imported by both sides, so neither keeps a copy). */
export interface StationView {
  id: string
  lat: number
  lon: number
  powerKw: number
  online: boolean
  status: string
  sessionId: string | null
  vehicleId: string | null
  /** Live power (W) and energy of the running session (Wh), or 0. */
  powerW: number
  energyWh: number
  /** The next reservation or hold within 24 h, epoch ms, or null. */
  nextBookingAtMs: number | null
}
