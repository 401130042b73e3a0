import type { Command } from 'commander'
import { VoltwayError, type RpcClient, type Station } from '../../protocol/index.js'
import { position, pricePerKwh, table } from '../output.js'
import { processCli, runOneShotWith, type CliContext, addConnectionOptions, type CommonFlags } from './common.js'

export function renderStations(stations: Station[]): string {
  if (stations.length === 0) return 'no stations'
  return table(
    ['station', 'hub', 'position', 'power', 'price', 'status', 'online'],
    stations.map((s) => [s.stationId, s.hubId, position(s.position), `${s.powerKw} kW`, pricePerKwh(s.priceMinorPerKwh, s.currency), s.status, s.online ? 'yes' : 'no']),
  )
}

/** Stations per `station.list` request: about 34 KB of answer, under any broker's packet bound an operator would set. */
export const STATION_PAGE = 200

/**
 * Every station of the hub, one `station.list` page at a time (docs/protocol.md): a hub with many
 * stations answers in pages an operator's broker packet bound lets through, and a hub from before
 * paging answers everything in its first page, without `next`. A `next` that does not move forward
 * (a faulty hub) fails with INTERNAL rather than looping.
 */
export async function listAllStations(rpc: Pick<RpcClient, 'request'>): Promise<Station[]> {
  const all: Station[] = []
  let after: string | undefined
  for (;;) {
    const page = await rpc.request('station.list', after === undefined ? { limit: STATION_PAGE } : { after, limit: STATION_PAGE })
    all.push(...page.stations)
    if (page.next === undefined) return all
    if (after !== undefined && page.next <= after) throw new VoltwayError('INTERNAL', `hub sent a station.list page whose next (${page.next}) does not follow its after (${after})`)
    after = page.next
  }
}

export function registerStations(parent: Command, cli: CliContext = processCli): void {
  addConnectionOptions(parent.command('stations').description("station.list: the hub's stations")).action(async (flags: CommonFlags) => {
    await runOneShotWith(cli, flags, async (conn) => {
      const r = { stations: await listAllStations(conn.rpc) }
      return { json: r, human: () => renderStations(r.stations) }
    })
  })
}
