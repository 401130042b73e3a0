/**
 * `history.list`: the vehicle's receipts from every hub of the federation.
 * Peers are asked in parallel with a timeout; one that does not answer makes
 * the answer `partial` and is named in `unreachableHubs`, never an error.
 */
import type { Logger } from 'pino'
import type { OpResult, Receipt } from '../../protocol/index.js'
import type { FederationClient } from '../federation/client.js'

export interface HistoryOptions {
  client: FederationClient
  localReceipts: (vehicleId: string) => Promise<Receipt[]>
  logger: Logger
  /** How long to wait for a peer. Default 2000 ms. */
  timeoutMs?: number
}

export async function vehicleHistory(o: HistoryOptions, vehicleId: string, limit: number): Promise<OpResult<'history.list'>> {
  const peers = o.client.peerIds
  const [local, ...remote] = await Promise.allSettled([
    o.localReceipts(vehicleId),
    ...peers.map((hubId) => o.client.receipts(hubId, vehicleId, { timeoutMs: o.timeoutMs ?? 2000 })),
  ])
  if (local?.status === 'rejected') throw local.reason
  const all: Receipt[] = local?.status === 'fulfilled' ? [...local.value] : []
  const unreachableHubs: string[] = []
  remote.forEach((r, i) => {
    const hubId = peers[i] as string
    if (r.status === 'fulfilled') all.push(...r.value.filter((x) => x.vehicleId === vehicleId))
    else {
      unreachableHubs.push(hubId)
      o.logger.info({ hubId, err: String(r.reason) }, 'peer did not give receipts')
    }
  })
  const seen = new Set<string>()
  const receipts = all
    .filter((r) => {
      const k = `${r.hubId}\n${r.sessionId}`
      if (seen.has(k)) return false
      seen.add(k)
      return true
    })
    .sort((a, b) => cmpDesc(a.endedAt, b.endedAt) || cmpDesc(a.startedAt, b.startedAt) || (a.sessionId < b.sessionId ? -1 : 1))
    .slice(0, limit)
  return { receipts, partial: unreachableHubs.length > 0, unreachableHubs: unreachableHubs.sort() }
}

function cmpDesc(a: string, b: string): number {
  const x = Date.parse(a)
  const y = Date.parse(b)
  return y - x
}
