import type { Command } from 'commander'
import type { Reservation } from '../../protocol/index.js'
import { keyValues, localTime, position, table } from '../output.js'
import { parseTimeFlag, resolvePositionRange } from '../settings.js'
import { UsageError } from '../errors.js'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, addPositionOptions, addRequestIdOption, idFlag, repeatable, requestIdFlag, type PositionCommandFlags, type RequestIdFlags } from './common.js'
import { addCheckedOption } from '../../cli-help.js'

interface ReserveFlags extends PositionCommandFlags, RequestIdFlags {
  at?: string
  station?: string
}

export function renderReservation(r: Reservation): string {
  return keyValues([
    ['reservation', r.reservationId],
    ['station', `${r.stationId} (hub ${r.hubId})`],
    ['position', position(r.position)],
    ['at', localTime(r.at)],
    ['window', `${localTime(r.windowStart)} .. ${localTime(r.windowEnd)}`],
  ])
}

export function renderReservations(list: Reservation[]): string {
  if (list.length === 0) return 'no reservations'
  return table(
    ['reservation', 'station', 'hub', 'at', 'window ends'],
    list.map((r) => [r.reservationId, r.stationId, r.hubId, localTime(r.at), localTime(r.windowEnd)]),
  )
}

export function registerReserve(parent: Command, cli: CliContext = processCli): void {
  const cmd = addCheckedOption(
    parent.command('reserve').description('reservation.create: reserve a station (the nearest free one within range unless --station)'),
    '--at <time>',
    'RFC 3339, or relative such as +2h30m (at least the hub lead time ahead: 2 h unless the hub sets another)',
  ).option('--station <id>', 'a specific station')
  addRequestIdOption(addPositionOptions(addConnectionOptions(cmd))).action(async (flags: ReserveFlags) => {
    const check = () => {
      if (flags.at === undefined) throw new UsageError('missing --at (e.g. --at +2h15m or --at 2026-11-24T18:00:00Z)')
      const at = parseTimeFlag(flags.at, '--at')
      const where = resolvePositionRange(flags, cli.env)
      const args = flags.station ? { at, ...where, stationId: idFlag(flags.station, '--station') } : { at, ...where }
      return { args, opts: requestIdFlag(flags.requestId) }
    }
    await runCheckedWith(cli, flags, check, async (conn, _io, { args, opts }) => {
      const r = await repeatable(() => conn.rpc.request('reservation.create', args, opts), `--at ${args.at}`)
      return { json: r, human: () => renderReservation(r.reservation) }
    })
  })
}
