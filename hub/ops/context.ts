/**
 * What op handlers get. HubContext is the hub's config and core parts
 * (stations, reservations, store, clock), built by createHubContext;
 * OpServices adds the services app.ts builds on it (charging, federation).
 * Each op file takes only the part it needs (`Pick<OpServices, ...>`).
 */
import pino, { type Logger } from 'pino'
import type { HubConfig } from '../config.js'
import { systemClock, type Clock } from '../../base/clock.js'
import { ReservationService, rulesFromConfig, type ReservationRules } from '../reservations/index.js'
import { StationRegistry } from '../stations/index.js'
import type { Store } from '../store/index.js'
import type { ChargingService } from '../charging/service.js'
import type { Federation } from '../trips/index.js'

export interface HubContext {
  readonly config: HubConfig
  readonly clock: Clock
  readonly store: Store
  readonly stations: StationRegistry
  readonly rules: ReservationRules
  readonly reservations: ReservationService
  readonly logger: Logger
}

/** Everything an op may use: the core context, charging sessions, and trips over the federation. */
export interface OpServices extends HubContext {
  readonly charging: Pick<ChargingService, 'start' | 'status' | 'stop'>
  readonly federation: Pick<Federation, 'coordinator' | 'listRoute' | 'history'>
}

export interface HubContextOptions {
  config: HubConfig
  store: Store
  clock?: Clock
  logger?: Logger
  /** Id for a new reservation (tests). Default `r-<uuid>`. */
  newReservationId?: () => string
}

export function createHubContext(opts: HubContextOptions): HubContext {
  const { config, store } = opts
  const clock = opts.clock ?? systemClock
  const logger = opts.logger ?? pino({ enabled: false })
  const rules = rulesFromConfig(config.rules)
  const stations = new StationRegistry({ hubId: config.hubId, currency: config.currency, stations: config.stations, clock })
  const reservations = new ReservationService({
    hubId: config.hubId,
    stations,
    store,
    clock,
    rules,
    logger: logger.child({ component: 'reservations' }),
    ...(opts.newReservationId ? { newReservationId: opts.newReservationId } : {}),
  })
  return { config, clock, store, stations, rules, reservations, logger }
}
