import type { Command } from 'commander'
import { UsageError } from '../errors.js'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, idFlag, type CommonFlags } from './common.js'

export function registerCancel(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent
    .command('cancel')
    .description('reservation.cancel: cancel one reservation, or --all of them')
    .argument('[reservationId]', 'the reservation to cancel')
    .option('--all', "cancel every reservation of this vehicle at this hub")
  addConnectionOptions(cmd).action(async (reservationId: string | undefined, flags: CommonFlags & { all?: boolean }) => {
    const check = () => {
      if (flags.all && reservationId) throw new UsageError('give either a reservation id or --all, not both')
      if (!flags.all && !reservationId) throw new UsageError('missing the reservation id (or --all)')
      return flags.all ? ({ all: true } as const) : { reservationId: idFlag(reservationId, 'reservationId') }
    }
    await runCheckedWith(cli, flags, check, async (conn, _io, args) => {
      const r = await conn.rpc.request('reservation.cancel', args)
      return { json: r, human: () => `cancelled ${r.cancelled} reservation${r.cancelled === 1 ? '' : 's'}` }
    })
  })
}
