import type { Command } from 'commander'
import { processCli, runOneShotWith, type CliContext, addConnectionOptions, type CommonFlags } from './common.js'
import { renderReservations } from './reserve.js'

export function registerReservations(parent: Command, cli: CliContext = processCli): void {
  addConnectionOptions(parent.command('reservations').description("reservation.list: this vehicle's reservations")).action(
    async (flags: CommonFlags) => {
      await runOneShotWith(cli, flags, async (conn) => {
        const r = await conn.rpc.request('reservation.list', {})
        return { json: r, human: () => renderReservations(r.reservations) }
      })
    },
  )
}
