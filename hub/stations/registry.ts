/**
 * The hub's stations: what config says about each (position, power, price)
 * plus what the station last reported over MQTT (online, status, session,
 * meter). A station is offline until its first state message; its Last Will
 * (`online: false`) makes it offline again.
 */
import type { Position, Station, StationState, StationStatus } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import { systemClock } from '../../base/clock.js'
import { SpatialIndex, type Hit } from './spatial-index.js'

export interface StationSpec {
  stationId: string
  position: Position
  powerKw: number
  priceMinorPerKwh: number
}

/** What the station last said about itself. */
export interface StationLive {
  online: boolean
  status: StationStatus
  sessionId: string | null
  meterWh: number | null
  agentVersion: string | null
  /** The `ts` of the last state message (the station's clock), or null before the first. */
  reportedAt: string | null
  /** When the hub received it (hub clock, epoch ms), or null before the first. */
  receivedAtMs: number | null
}

export interface RegisteredStation extends StationSpec {
  readonly live: Readonly<StationLive>
}

export interface StationRegistryOptions {
  hubId: string
  currency: string
  stations: readonly StationSpec[]
  clock?: Clock
}

interface Entry extends StationSpec {
  live: StationLive
}

export class StationRegistry {
  readonly hubId: string
  readonly currency: string
  readonly #byId = new Map<string, Entry>()
  #index: SpatialIndex<Entry>
  readonly #clock: Clock

  /** Throws RangeError on a duplicate station id (hub.json validation rules that out earlier). */
  constructor(opts: StationRegistryOptions) {
    this.hubId = opts.hubId
    this.currency = opts.currency
    this.#clock = opts.clock ?? systemClock
    for (const s of opts.stations) {
      if (this.#byId.has(s.stationId)) throw new RangeError(`duplicate station id ${s.stationId}`)
      this.#byId.set(s.stationId, {
        stationId: s.stationId,
        position: { lat: s.position.lat, lon: s.position.lon },
        powerKw: s.powerKw,
        priceMinorPerKwh: s.priceMinorPerKwh,
        live: offline(),
      })
    }
    this.#index = new SpatialIndex([...this.#byId.values()])
  }

  /**
   * Make the stations exactly `specs` (accounts added or removed while the hub
   * runs): new ones start offline, kept ones keep their live state and take the
   * new position, power and price. Returns the ids added and removed.
   */
  replaceSpecs(specs: readonly StationSpec[]): { added: string[]; removed: string[] } {
    const wanted = new Map(specs.map((s) => [s.stationId, s]))
    const removed = [...this.#byId.keys()].filter((id) => !wanted.has(id))
    for (const id of removed) this.#byId.delete(id)
    const added: string[] = []
    for (const s of specs) {
      const e = this.#byId.get(s.stationId)
      const spec = { stationId: s.stationId, position: { lat: s.position.lat, lon: s.position.lon }, powerKw: s.powerKw, priceMinorPerKwh: s.priceMinorPerKwh }
      if (e) Object.assign(e, spec)
      else {
        this.#byId.set(s.stationId, { ...spec, live: offline() })
        added.push(s.stationId)
      }
    }
    this.#index = new SpatialIndex([...this.#byId.values()])
    // Only a change of the station set moves the id order (an account change elsewhere calls this too).
    if (added.length > 0 || removed.length > 0) this.#sortedIds = null
    return { added, removed }
  }

  get size(): number {
    return this.#byId.size
  }

  get(stationId: string): RegisteredStation | undefined {
    return this.#byId.get(stationId)
  }

  has(stationId: string): boolean {
    return this.#byId.has(stationId)
  }

  /** Every station, in config order. */
  all(): RegisteredStation[] {
    return [...this.#byId.values()]
  }

  /**
   * Record a validated state message from `voltway/v1/stations/S/state`
   * (retained, and the Last Will). Messages are applied in arrival order, not
   * by `ts`: a Last Will carries the `ts` of when it was registered, older
   * than the states sent after it, yet it is the newest truth when it arrives.
   * Returns false (and changes nothing) for a station this hub does not have.
   */
  applyState(stationId: string, state: StationState): boolean {
    const entry = this.#byId.get(stationId)
    if (!entry) return false
    entry.live = {
      online: state.online,
      status: state.status,
      sessionId: state.sessionId,
      meterWh: state.meterWh,
      agentVersion: state.agentVersion,
      reportedAt: state.ts,
      receivedAtMs: this.#clock.now(),
    }
    return true
  }

  /** Mark a station offline without a message (e.g. the hub lost its broker). Returns false if unknown. */
  markOffline(stationId: string): boolean {
    const entry = this.#byId.get(stationId)
    if (!entry) return false
    entry.live = { ...entry.live, online: false }
    return true
  }

  /** Stations within `rangeKm` of `position` (inclusive), nearest first, at most `limit`. */
  nearest(position: Position, rangeKm: number, limit = Infinity, skip?: (s: RegisteredStation) => boolean): Hit<RegisteredStation>[] {
    return this.#index.around(position, rangeKm, limit, skip)
  }

  /** The protocol's `Station`. */
  toWire(station: RegisteredStation): Station {
    return {
      stationId: station.stationId,
      hubId: this.hubId,
      position: { lat: station.position.lat, lon: station.position.lon },
      powerKw: station.powerKw,
      priceMinorPerKwh: station.priceMinorPerKwh,
      currency: this.currency,
      status: station.live.status,
      online: station.live.online,
    }
  }

  /**
   * One page of `station.list` (docs/protocol.md): the stations whose id sorts after `after` (code-unit
   * order; the id need not exist, so a page survives a station removed meanwhile), at most `limit` of
   * them (every one without it), in id order. `next` is the last id of the page when more remain: the
   * `after` of the next page. O(log n + page) per call; the id order is rebuilt after a change of the
   * station set.
   */
  page(after?: string, limit?: number): { stations: Station[]; next?: string } {
    const ids = this.#ids()
    let lo = 0
    if (after !== undefined) {
      let hi = ids.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if ((ids[mid] as string) <= after) lo = mid + 1
        else hi = mid
      }
    }
    const end = limit === undefined ? ids.length : Math.min(ids.length, lo + limit)
    const stations = ids.slice(lo, end).map((id) => this.toWire(this.#byId.get(id) as Entry))
    return end < ids.length && stations.length > 0 ? { stations, next: (stations.at(-1) as Station).stationId } : { stations }
  }

  #sortedIds: string[] | null = null

  #ids(): string[] {
    this.#sortedIds ??= [...this.#byId.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    return this.#sortedIds
  }
}

const offline = (): StationLive => ({ online: false, status: 'available', sessionId: null, meterWh: null, agentVersion: null, reportedAt: null, receivedAtMs: null })
