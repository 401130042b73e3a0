/**
 * Cards at the charger, the hub's side (docs/protocol.md, "Cards at the
 * charger"; OCPP's Authorize): which vehicle account a card charges on, and
 * whether it may start at a station now. The session itself is opened when
 * the station's `session.started` event carrying the card's idTag arrives
 * (ChargingService.applyEvent), so online and offline taps bill one way.
 */
import type { Logger } from 'pino'
import { VoltwayError, formatTime, type CardAuthResult } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import type { ReservationRules } from '../reservations/index.js'
import type { StationRegistry } from '../stations/index.js'
import type { Store } from '../store/index.js'

export interface CardAuthDeps {
  /** hub.json `vehicles`: each vehicle's `cards`. */
  vehicles: readonly { vehicleId: string; cards?: readonly string[] | undefined }[]
  /** How long a station may accept the card offline after this answer, ms. */
  cacheMs: number
  store: Store
  stations: StationRegistry
  rules: ReservationRules
  clock: Clock
  logger: Logger
}

/** The vehicle a card charges on, or undefined. */
export interface CardDirectory {
  vehicleOf(idTag: string): string | undefined
}

export class CardAuthorizer implements CardDirectory {
  readonly #d: CardAuthDeps
  readonly #log: Logger
  readonly #owners = new Map<string, string>()

  constructor(deps: CardAuthDeps) {
    this.#d = deps
    this.#log = deps.logger.child({ component: 'cards' })
    for (const v of deps.vehicles) for (const c of v.cards ?? []) this.#owners.set(c, v.vehicleId)
  }

  vehicleOf(idTag: string): string | undefined {
    return this.#owners.get(idTag)
  }

  /** The answer to station `stationId`'s request `id` for card `idTag`. Never rejects on a refusal: it answers it. */
  async authorize(stationId: string, id: string, idTag: string): Promise<CardAuthResult> {
    try {
      const vehicleId = await this.#check(stationId, idTag)
      const expiresAt = formatTime(this.#d.clock.now() + this.#d.cacheMs)
      this.#log.info({ stationId, idTag, vehicleId, expiresAt }, 'card authorized')
      return { id, ok: true, vehicleId, expiresAt }
    } catch (err) {
      if (!(err instanceof VoltwayError)) throw err
      this.#log.warn({ stationId, idTag, code: err.code }, `card refused: ${err.message}`)
      return { id, ok: false, error: { code: err.code, message: err.message } }
    }
  }

  async #check(stationId: string, idTag: string): Promise<string> {
    const { stations, store, rules, clock } = this.#d
    const vehicleId = this.vehicleOf(idTag)
    if (vehicleId === undefined) throw new VoltwayError('CARD_UNKNOWN', `card ${idTag} belongs to no vehicle account of this hub`)
    const station = stations.get(stationId)
    if (!station) throw new VoltwayError('NOT_FOUND', `station ${stationId} is not in this hub's configuration`)
    if (station.live.status !== 'available') throw new VoltwayError('STATION_BUSY', `station ${stationId} is ${station.live.status}`)
    // As for charge.start: no other vehicle may hold a reservation there within the window around now.
    const now = clock.now()
    const bookings = await store.reservations.findBookings({ stationIds: [stationId], atMs: now, windowMs: rules.windowMs, nowMs: now })
    const other = bookings.find((b) => b.vehicleId !== vehicleId)
    if (other) throw new VoltwayError('RESERVED_BY_OTHER', `station ${stationId} is reserved by another vehicle around ${formatTime(other.atMs)}`)
    return vehicleId
  }
}
