/** `charge.start`, `charge.status`, `charge.stop`: the vehicle is always the caller (from the topic). */
import type { HandlerTable } from '../../protocol/index.js'
import type { ChargingService } from './service.js'

export function chargingHandlers(charging: ChargingService): HandlerTable {
  return {
    'charge.start': (args, ctx) => charging.start(ctx.vehicleId, args),
    'charge.status': (args, ctx) => charging.status(ctx.vehicleId, args.sessionId),
    'charge.stop': (args, ctx) => charging.stop(ctx.vehicleId, args.sessionId),
  }
}
