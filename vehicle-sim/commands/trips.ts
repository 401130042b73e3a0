import type { Command } from 'commander'
import type { OpResult } from '../../protocol/index.js'
import { localTime, table } from '../output.js'
import { processCli, runOneShotWith, type CliContext, addConnectionOptions, numberFlag, type CommonFlags } from './common.js'

/** One row per trip, newest first as the hub lists them; a leg is `hub/station@time` (`-` for a hop not booked). */
export function renderTrips(r: OpResult<'trip.list'>): string {
  if (r.trips.length === 0) return 'no trips'
  return table(
    ['trip', 'state', 'created', 'legs'],
    r.trips.map((x) => [
      x.tripId,
      x.failure ? `${x.state} (hop ${x.failure.failedHop}: ${x.failure.reason})` : x.state,
      localTime(x.createdAt),
      x.legs.map((l) => `${l.hubId}/${l.stationId ?? '-'}@${localTime(l.at)}`).join(' '),
    ]),
  )
}

export function registerTrips(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent
    .command('trips')
    .description("trip.list: this vehicle's trips booked at this hub, newest first (find a trip whose answer was lost)")
    .option('--limit <n>', 'at most this many trips (1..100)', numberFlag({ integer: true, min: 1, max: 100 }))
  addConnectionOptions(cmd).action(async (flags: CommonFlags & { limit?: number }) => {
    await runOneShotWith(cli, flags, async (conn) => {
      const r = await conn.rpc.request('trip.list', flags.limit ? { limit: flags.limit } : {})
      return { json: r, human: () => renderTrips(r) }
    })
  })
}
