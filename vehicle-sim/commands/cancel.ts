import type { Command } from 'commander'
import { UsageError } from '../errors.js'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, addRequestIdOption, idFlag, repeatable, requestIdFlag, type CommonFlags, type RequestIdFlags } from './common.js'

export function registerCancel(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent
    .command('cancel')
    .description('reservation.cancel: cancel one reservation, or --all of them')
    .argument('[reservationId]', 'the reservation to cancel')
    .option('--all', "cancel every reservation of this vehicle at this hub")
  addRequestIdOption(addConnectionOptions(cmd)).action(async (reservationId: string | undefined, flags: CommonFlags & RequestIdFlags & { all?: boolean }) => {
    const check = () => {
      if (flags.all && reservationId) throw new UsageError('give either a reservation id or --all, not both')
      if (!flags.all && !reservationId) throw new UsageError('missing the reservation id (or --all)')
      const args = flags.all ? ({ all: true } as const) : { reservationId: idFlag(reservationId, 'reservationId') }
      return { args, opts: requestIdFlag(flags.requestId) }
    }
    await runCheckedWith(cli, flags, check, async (conn, _io, { args, opts }) => {
      const r = await repeatable(() => conn.rpc.request('reservation.cancel', args, opts), '')
      return { json: r, human: () => `cancelled ${r.cancelled} reservation${r.cancelled === 1 ? '' : 's'}` }
    })
  })
}
