import type { Command } from 'commander'
import { processCli, runOneShotWith, type CliContext, addConnectionOptions, idFlag, type CommonFlags } from './common.js'

export function registerTripCancel(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent.command('trip-cancel').description('trip.cancel: cancel every reservation of a trip').argument('<tripId>', 'the trip to cancel')
  addConnectionOptions(cmd).action(async (tripId: string, flags: CommonFlags) => {
    await runOneShotWith(cli, flags, async (conn) => {
      const r = await conn.rpc.request('trip.cancel', { tripId: idFlag(tripId, 'tripId') })
      return { json: r, human: () => `cancelled ${r.cancelled} reservation${r.cancelled === 1 ? '' : 's'} of trip ${tripId}` }
    })
  })
}
