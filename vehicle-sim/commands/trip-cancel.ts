import type { Command } from 'commander'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, addRequestIdOption, idFlag, repeatable, requestIdFlag, type CommonFlags, type RequestIdFlags } from './common.js'

export function registerTripCancel(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent.command('trip-cancel').description('trip.cancel: cancel every reservation of a trip').argument('<tripId>', 'the trip to cancel')
  addRequestIdOption(addConnectionOptions(cmd)).action(async (tripId: string, flags: CommonFlags & RequestIdFlags) => {
    const check = () => ({ id: idFlag(tripId, 'tripId'), opts: requestIdFlag(flags.requestId) })
    await runCheckedWith(cli, flags, check, async (conn, _io, { id, opts }) => {
      const r = await repeatable(() => conn.rpc.request('trip.cancel', { tripId: id }, opts), '')
      return { json: r, human: () => `cancelled ${r.cancelled} reservation${r.cancelled === 1 ? '' : 's'} of trip ${tripId}` }
    })
  })
}
