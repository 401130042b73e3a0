/**
 * One row per station as the dashboard shows it: config (position, power),
 * what the station last reported (online, status, session) and, while a
 * session runs, its live power and energy from telemetry. The session's
 * vehicle and start reading come from the store once per session (cached,
 * bounded: forgotten when the session is no longer running).
 */
import type { StationRegistry } from '../../stations/index.js'
import type { Store } from '../../store/index.js'
import type { StationView } from '../wire.js'
import type { PowerLog } from './power-log.js'

export type { StationView } from '../wire.js'


interface SessionMeta {
  vehicleId: string
  meterStartWh: number | null
}

export class StationViews {
  readonly #stations: StationRegistry
  readonly #store: Store
  readonly #power: PowerLog
  readonly #meta = new Map<string, SessionMeta | 'loading'>()

  constructor(stations: StationRegistry, store: Store, power: PowerLog) {
    this.#stations = stations
    this.#store = store
    this.#power = power
  }

  all(nextBooking: ReadonlyMap<string, number>): StationView[] {
    const running = new Set<string>()
    const out = this.#stations.all().map((s) => {
      const sessionId = s.live.sessionId
      if (sessionId !== null) running.add(sessionId)
      const meta = sessionId === null ? undefined : this.#sessionMeta(sessionId)
      const reading = this.#power.reading(s.stationId, sessionId)
      const start = meta?.meterStartWh ?? null
      return {
        id: s.stationId,
        lat: s.position.lat,
        lon: s.position.lon,
        powerKw: s.powerKw,
        online: s.live.online,
        status: s.live.online ? s.live.status : 'offline',
        sessionId,
        vehicleId: meta?.vehicleId ?? null,
        powerW: reading?.powerW ?? 0,
        energyWh: reading && start !== null ? Math.max(0, reading.meterWh - start) : 0,
        nextBookingAtMs: nextBooking.get(s.stationId) ?? null,
      }
    })
    for (const id of this.#meta.keys()) if (!running.has(id)) this.#meta.delete(id)
    return out
  }

  #sessionMeta(sessionId: string): SessionMeta | undefined {
    const m = this.#meta.get(sessionId)
    if (m === 'loading') return undefined
    if (m) return m
    this.#meta.set(sessionId, 'loading')
    this.#store.charging.getSession(sessionId).then(
      (s) => {
        if (s) this.#meta.set(sessionId, { vehicleId: s.vehicleId, meterStartWh: s.meterStartWh })
        else this.#meta.delete(sessionId)
      },
      () => this.#meta.delete(sessionId),
    )
    return undefined
  }
}
