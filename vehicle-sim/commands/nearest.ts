import type { Command } from 'commander'
import type { NearStation } from '../../protocol/index.js'
import { km, position, pricePerKwh, table } from '../output.js'
import { parseTimeFlag, resolvePositionRange } from '../settings.js'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, addPositionOptions, numberFlag, type PositionCommandFlags } from './common.js'

interface NearestFlags extends PositionCommandFlags {
  at?: string
  limit?: number
}

export function renderNearest(stations: NearStation[]): string {
  if (stations.length === 0) return 'no station within range'
  return table(
    ['station', 'hub', 'distance', 'position', 'power', 'price', 'status', 'free'],
    stations.map((s) => [s.stationId, s.hubId, km(s.distanceKm), position(s.position), `${s.powerKw} kW`, pricePerKwh(s.priceMinorPerKwh, s.currency), s.online ? s.status : 'offline', s.free ? 'yes' : 'no']),
  )
}

export function registerNearest(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent
    .command('nearest')
    .description('station.nearest: stations within range of a position, nearest first')
    .option('--at <time>', 'when the station should be free: RFC 3339, "now", or +2h (default: now)')
    .option('--limit <n>', 'how many stations (1..100)', numberFlag({ integer: true, min: 1, max: 100 }))
  addPositionOptions(addConnectionOptions(cmd)).action(async (flags: NearestFlags) => {
    const check = () => {
      const where = resolvePositionRange(flags, cli.env)
      const args: { position: typeof where.position; rangeKm: number; at?: string; limit?: number } = { ...where }
      if (flags.at !== undefined) args.at = parseTimeFlag(flags.at, '--at')
      if (flags.limit !== undefined) args.limit = flags.limit
      return args
    }
    await runCheckedWith(cli, flags, check, async (conn, _io, args) => {
      const r = await conn.rpc.request('station.nearest', args)
      return { json: r, human: () => renderNearest(r.stations) }
    })
  })
}
