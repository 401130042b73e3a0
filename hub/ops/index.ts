/**
 * The hub's op handler table, one file per op. Each area contributes a
 * HandlerFactory; `buildHandlerTable` merges them and refuses two handlers
 * for one op. Another area plugs in like this:
 *
 *     const ctx: ChargeContext = { ...createHubContext(opts), sessions }
 *     const handlers = buildHandlerTable(ctx, [coreHandlers, chargeHandlers])
 *     createRpcServer({ client, hubId, handlers })
 *
 * The vehicle is always `req.vehicleId` (from the topic, checked by the
 * broker), never a field of the args.
 */
import type { HandlerTable, VoltwayError } from '../../protocol/index.js'
import type { HubContext } from './context.js'
import { hubInfo } from './hub-info.js'
import { reservationCancel } from './reservation-cancel.js'
import { reservationCreate } from './reservation-create.js'
import { reservationList } from './reservation-list.js'
import { stationList } from './station-list.js'
import { stationNearest } from './station-nearest.js'

export { createHubContext, type HubContext, type HubContextOptions } from './context.js'

export type HandlerFactory<C extends HubContext = HubContext> = (ctx: C) => HandlerTable

/** hub.info, station.list, station.nearest, reservation.create/cancel/list. */
export const coreHandlers: HandlerFactory = (ctx) => ({
  'hub.info': hubInfo(ctx),
  'station.list': stationList(ctx),
  'station.nearest': stationNearest(ctx),
  'reservation.create': reservationCreate(ctx),
  'reservation.cancel': reservationCancel(ctx),
  'reservation.list': reservationList(ctx),
})

/** Merge the factories' tables. Throws RangeError when two of them serve the same op. */
export function buildHandlerTable<C extends HubContext>(ctx: C, factories: ReadonlyArray<HandlerFactory<C>> = [coreHandlers]): HandlerTable {
  const table: HandlerTable = {}
  for (const factory of factories) {
    const part = factory(ctx)
    for (const op of Object.keys(part)) {
      if (Object.hasOwn(table, op)) throw new RangeError(`two handlers for op ${op}`)
    }
    Object.assign(table, part)
  }
  return table
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
