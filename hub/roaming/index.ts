/**
 * Roaming (docs/protocol.md "Roaming"): the station side (RoamingStation,
 * served to peers at `/federation/v1/sessions`) and the home side
 * (RoamingHome behind the `charge.*` ops, with its durable stop queue).
 *
 *     const station = new RoamingStation({ hubId, store, charging })
 *     const fed = createFederation({ ..., roaming: station, receipts: (v) => roaming.home.receipts(v, 500) })
 *     const roaming = createRoamingHome({ hubId, store, clock, logger, client: fed.client, local: charging })
 *     opHandlers({ ...ctx, charging: roaming.home, federation: fed })
 *     await roaming.start()   // resumes queued stops;  ...; await roaming.close() before fed.close()
 */
import type { Random } from '../../base/clock.js'
import { RoamingHome, type RoamingHomeDeps } from './emsp.js'
import { StopQueue } from './stop-queue.js'

export { RoamingStation, type RoamingStationDeps } from './cpo.js'
export { RoamingHome, type RoamingHomeDeps } from './emsp.js'
export { StopQueue } from './stop-queue.js'

export interface RoamingHomeOptions extends RoamingHomeDeps {
  /** Stop queue backoff. Defaults 200 ms and 30 s. */
  stopMinDelayMs?: number
  stopMaxDelayMs?: number
  random?: Random
}

export function createRoamingHome(o: RoamingHomeOptions): { home: RoamingHome; queue: StopQueue; start(): Promise<void>; close(): Promise<void> } {
  const home = new RoamingHome(o)
  const queue = new StopQueue({
    store: o.store,
    clock: o.clock,
    logger: o.logger,
    stop: (sessionId) => home.stopAtPeer(sessionId),
    ...(o.stopMinDelayMs !== undefined ? { minDelayMs: o.stopMinDelayMs } : {}),
    ...(o.stopMaxDelayMs !== undefined ? { maxDelayMs: o.stopMaxDelayMs } : {}),
    ...(o.random ? { random: o.random } : {}),
  })
  home.useStopQueue(queue)
  return { home, queue, start: () => queue.start(), close: () => queue.close() }
}
