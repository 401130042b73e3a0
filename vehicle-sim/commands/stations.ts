import type { Command } from 'commander'
import { VoltwayError, type RpcClient, type Station } from '../../protocol/index.js'
import { position, pricePerKwh, table } from '../output.js'
import { processCli, runOneShotWith, type CliContext, addConnectionOptions, type CommonFlags } from './common.js'

/** Ids as a person reads them: FSA-2 before FSA-10 (the protocol's order is by code unit: FSA-10 first). */
const natural = new Intl.Collator('en', { numeric: true })

/** The stations as a table, in natural id order; `--json` keeps the hub's order. */
export function renderStations(stations: Station[]): string {
  if (stations.length === 0) return 'no stations'
  return table(
    ['station', 'hub', 'position', 'power', 'price', 'status', 'online'],
    [...stations].sort((a, b) => natural.compare(a.stationId, b.stationId) || (a.stationId < b.stationId ? -1 : a.stationId > b.stationId ? 1 : 0)).map((s) => [s.stationId, s.hubId, position(s.position), `${s.powerKw} kW`, pricePerKwh(s.priceMinorPerKwh, s.currency), s.status, s.online ? 'yes' : 'no']),
  )
}

/**
 * Stations per `station.list` request: at most 57 KB of answer even for the largest station the protocol
 * allows (354 bytes: ids of 64 characters, numbers of 24), under a broker bound of 64 KiB. A broker that takes
 * less gets smaller pages (listAllStations).
 */
export const STATION_PAGE = 160
const faulty = (why: string): VoltwayError => new VoltwayError('INTERNAL', `hub sent a faulty station.list page: ${why}`)

/**
 * Every station of the hub, one `station.list` page at a time (docs/protocol.md), in the hub's order (id
 * order from a hub that pages; a hub from before paging answers everything in its first page, without
 * `next`, in its own order). A page the hub's broker refuses as too large (ANSWER_TOO_LARGE, with its
 * sizes) is asked again smaller, down to one station. A hub that pages must follow the protocol's order:
 * every station after the one before it, `next` the page's last station; and it may not page on far past
 * the count `hub.info` gave (stations added meanwhile: as many again, at least 1000). Otherwise INTERNAL,
 * rather than a list with repeats or gaps, or no end.
 */
export async function listAllStations(rpc: Pick<RpcClient, 'request'>): Promise<Station[]> {
  const all: Station[] = []
  let after: string | undefined
  let limit = STATION_PAGE
  let counted: number | null = null
  for (;;) {
    let page: { stations: Station[]; next?: string | undefined }
    try {
      page = await rpc.request('station.list', after === undefined ? { limit } : { after, limit })
    } catch (err) {
      const smaller = smallerPage(err, limit)
      if (smaller === null) throw err
      limit = smaller
      continue
    }
    if (page.next === undefined && after === undefined) return page.stations
    let last = after
    for (const s of page.stations) {
      if (last !== undefined && s.stationId <= last) throw faulty(`station ${s.stationId} does not sort after ${last}`)
      last = s.stationId
    }
    all.push(...page.stations)
    if (page.next === undefined) return all
    if (page.stations.length === 0) throw faulty(`next (${page.next}) with no station`)
    if (page.next !== last) throw faulty(`next (${page.next}) is not the page's last station (${last})`)
    counted ??= (await rpc.request('hub.info', {})).stations
    if (all.length > 2 * counted + 1000) throw faulty(`${all.length} stations and still paging, where hub.info counted ${counted}`)
    after = page.next
  }
}

/** The limit to ask again with after ANSWER_TOO_LARGE (details: bytes, maxBytes), with a tenth to spare; null when no smaller page can help. */
function smallerPage(err: unknown, limit: number): number | null {
  if (!(err instanceof VoltwayError) || err.code !== 'ANSWER_TOO_LARGE' || limit <= 1) return null
  const { bytes, maxBytes } = (err.details ?? {}) as { bytes?: unknown; maxBytes?: unknown }
  const scaled = typeof bytes === 'number' && typeof maxBytes === 'number' && bytes > 0 ? Math.floor((limit * maxBytes * 0.9) / bytes) : Math.floor(limit / 2)
  return Math.max(1, Math.min(limit - 1, scaled))
}

export function registerStations(parent: Command, cli: CliContext = processCli): void {
  addConnectionOptions(parent.command('stations').description("station.list: the hub's stations")).action(async (flags: CommonFlags) => {
    await runOneShotWith(cli, flags, async (conn) => {
      const r = { stations: await listAllStations(conn.rpc) }
      return { json: r, human: () => renderStations(r.stations) }
    })
  })
}
