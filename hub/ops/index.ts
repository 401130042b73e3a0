/**
 * The hub's op handler table: one file per op in this folder, each exporting
 * a function that takes the services it needs (from OpServices) and returns
 * the op's handler; opHandlers() lists them all, one entry per op of
 * protocol/schemas/ops.ts (a missing op is a type error). The vehicle is
 * always `req.vehicleId` (from the topic, checked by the broker), never a
 * field of the args.
 *
 * To add an op: its schema in protocol/schemas/ops.ts, a file here, one line
 * in the group below that holds the services it needs.
 */
import type { HandlerTable, OpHandler, OpName, VoltwayError } from '../../protocol/index.js'
import { chargeStart } from './charge-start.js'
import { chargeStatus } from './charge-status.js'
import { chargeStop } from './charge-stop.js'
import type { HubContext, OpServices } from './context.js'
import { historyList } from './history-list.js'
import { hubInfo } from './hub-info.js'
import { reservationCancel } from './reservation-cancel.js'
import { reservationCreate } from './reservation-create.js'
import { reservationList } from './reservation-list.js'
import { routeList } from './route-list.js'
import { routeReserve } from './route-reserve.js'
import { stationList } from './station-list.js'
import { stationNearest } from './station-nearest.js'
import { tripCancel } from './trip-cancel.js'
import { tripList } from './trip-list.js'

export { createHubContext, type HubContext, type HubContextOptions, type OpServices } from './context.js'

/** The ops that need only the core context (tests and benches without charging or federation serve these alone). */
export function coreOpHandlers(ctx: HubContext) {
  return {
    'hub.info': hubInfo(ctx),
    'station.list': stationList(ctx),
    'station.nearest': stationNearest(ctx),
    'reservation.create': reservationCreate(ctx),
    'reservation.cancel': reservationCancel(ctx),
    'reservation.list': reservationList(ctx),
    'trip.list': tripList(ctx),
  }
}

/** `charge.*`: sessions at this hub's stations. */
export function chargingOpHandlers(s: Pick<OpServices, 'charging'>) {
  return {
    'charge.start': chargeStart(s),
    'charge.status': chargeStatus(s),
    'charge.stop': chargeStop(s),
  }
}

/** `route.*`, `trip.cancel`, `history.list`: what spans this hub and its peers. */
export function tripOpHandlers(s: Pick<OpServices, 'federation'>) {
  return {
    'route.list': routeList(s),
    'route.reserve': routeReserve(s),
    'trip.cancel': tripCancel(s),
    'history.list': historyList(s),
  }
}

/** Every op the hub serves, each exactly once. */
export function opHandlers(s: OpServices): { [O in OpName]: OpHandler<O> } {
  return { ...coreOpHandlers(s), ...chargingOpHandlers(s), ...tripOpHandlers(s) }
}

/**
 * The same table, with every handler's failure passed through `map`: a
 * thrown value it recognizes (for example a store that cannot take writes)
 * is rethrown as its coded VoltwayError; anything else unchanged.
 */
export function mapHandlerErrors(table: HandlerTable, map: (err: unknown) => VoltwayError | null): HandlerTable {
  const out: Record<string, unknown> = {}
  for (const [op, handler] of Object.entries(table)) {
    const h = handler as (args: unknown, ctx: unknown) => Promise<unknown>
    out[op] = async (args: unknown, ctx: unknown) => {
      try {
        return await h(args, ctx)
      } catch (err) {
        throw map(err) ?? err
      }
    }
  }
  return out as HandlerTable
}
