import type { Command } from 'commander'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, idFlag, type CommonFlags } from './common.js'

export function registerTripCancel(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent.command('trip-cancel').description('trip.cancel: cancel every reservation of a trip').argument('<tripId>', 'the trip to cancel')
  addConnectionOptions(cmd).action(async (tripId: string, flags: CommonFlags) => {
    await runCheckedWith(cli, flags, () => idFlag(tripId, 'tripId'), async (conn, _io, id) => {
      const r = await conn.rpc.request('trip.cancel', { tripId: id })
      return { json: r, human: () => `cancelled ${r.cancelled} reservation${r.cancelled === 1 ? '' : 's'} of trip ${tripId}` }
    })
  })
}
