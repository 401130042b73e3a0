/**
 * What op handlers get: the hub's config and its long-lived parts. Areas
 * added later (charging, federation, routes) extend it by intersection,
 * e.g. `type ChargeContext = HubContext & { sessions: SessionService }`,
 * and contribute a HandlerFactory of their own (see ./index.ts).
 */
import pino, { type Logger } from 'pino'
import type { HubConfig } from '../config.js'
import { systemClock, type Clock } from '../../base/clock.js'
import { ReservationService, rulesFromConfig, type ReservationRules } from '../reservations/index.js'
import { StationRegistry } from '../stations/index.js'
import type { Store } from '../store/index.js'

export interface HubContext {
  readonly config: HubConfig
  readonly clock: Clock
  readonly store: Store
  readonly stations: StationRegistry
  readonly rules: ReservationRules
  readonly reservations: ReservationService
  readonly logger: Logger
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
