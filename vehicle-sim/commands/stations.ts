import type { Command } from 'commander'
import type { Station } from '../../protocol/index.js'
import { position, pricePerKwh, table } from '../output.js'
import { processCli, runOneShotWith, type CliContext, addConnectionOptions, type CommonFlags } from './common.js'

export function renderStations(stations: Station[]): string {
  if (stations.length === 0) return 'no stations'
  return table(
    ['station', 'hub', 'position', 'power', 'price', 'status', 'online'],
    stations.map((s) => [s.stationId, s.hubId, position(s.position), `${s.powerKw} kW`, pricePerKwh(s.priceMinorPerKwh, s.currency), s.status, s.online ? 'yes' : 'no']),
  )
}

export function registerStations(parent: Command, cli: CliContext = processCli): void {
  addConnectionOptions(parent.command('stations').description("station.list: the hub's stations")).action(async (flags: CommonFlags) => {
    await runOneShotWith(cli, flags, async (conn) => {
      const r = await conn.rpc.request('station.list', {})
      return { json: r, human: () => renderStations(r.stations) }
    })
  })
}
