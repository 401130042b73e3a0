/** What the dashboard reads and acts on, handed over by hub/app.ts. */
import type { Logger } from 'pino'
import type { ChargingService } from '../charging/service.js'
import type { StationControl } from '../charging/station-control.js'
import type { Clock } from '../../base/clock.js'
import type { HubConfig } from '../config.js'
import type { HubMetrics } from '../metrics.js'
import type { HubSummary } from '../routes/directory.js'
import type { StationRegistry } from '../stations/index.js'
import type { Store } from '../store/index.js'
import type { BookingsWatch } from './live/bookings.js'
import type { LiveFeed } from './live/feed.js'
import type { Journal } from './live/journal.js'
import type { PowerLog } from './live/power-log.js'
import type { StationViews } from './live/station-views.js'
import type { PeerHealth } from './peer-health.js'

export interface UiHubDeps {
  config: HubConfig
  store: Store
  stations: StationRegistry
  charging: ChargingService
  /** Operator enable/disable of a station (its own command timeout). */
  stationControl: StationControl
  metrics: HubMetrics
  clock: Clock
  logger: Logger
  /** This hub and its peers with their positions, for the road graph (default: this hub alone). */
  hubs?: () => HubSummary[]
  /** Live feed period (default 250 ms). */
  tickMs?: number
}

/** The dashboard's own parts, built from UiHubDeps by createUi. */
export interface UiParts {
  views: StationViews
  journal: Journal
  power: PowerLog
  bookings: BookingsWatch
  feed: LiveFeed
  peers: PeerHealth
}
