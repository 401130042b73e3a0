import { formatTime, type OpHandler, type TripSummary } from '../../protocol/index.js'
import type { TripRecord, TripState } from '../store/index.js'
import type { HubContext } from './context.js'

const WIRE_STATE: Record<TripState, TripSummary['state']> = {
  trying: 'booking',
  confirming: 'booking',
  aborting: 'booking',
  confirmed: 'confirmed',
  aborted: 'failed',
  cancelling: 'cancelled',
  cancelled: 'cancelled',
}

/**
 * The caller's trips coordinated by this hub, newest first, whatever became
 * of them: how a vehicle whose `route.reserve` answer was lost finds its
 * trip (or learns it failed).
 */
export function tripList(ctx: Pick<HubContext, 'store'>): OpHandler<'trip.list'> {
  return async (args, req) => ({ trips: (await ctx.store.trips.listVehicleTrips(req.vehicleId, args.limit)).map(summary) })
}

function summary(t: TripRecord): TripSummary {
  const confirmed = t.state === 'confirmed'
  return {
    tripId: t.tripId,
    routeId: t.routeId,
    state: WIRE_STATE[t.state],
    createdAt: formatTime(t.createdAtMs),
    legs: t.legs.map((l) => ({ hubId: l.hubId, at: formatTime(l.atMs), stationId: confirmed ? l.stationId : null, reservationId: confirmed ? l.reservationId : null })),
    failure: t.state === 'aborted' ? t.failure : null,
  }
}
