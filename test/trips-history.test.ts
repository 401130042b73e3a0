/** history.list: every hub's receipts of the vehicle, newest first; a silent peer makes it partial, not an error. */
import t from 'tap'
import type { Receipt } from '../protocol/index.js'
import { BAHIA, BAHIA_LINKS, deadUrl, startFederationHubs, startHangingServer } from './helpers/federation-hubs.js'

function receipt(hubId: string, sessionId: string, endedAt: string, vehicleId = 'V1'): Receipt {
  return {
    sessionId, stationId: 'S', hubId, vehicleId, startedAt: '2026-11-20T00:00:00Z', endedAt, energyWh: 1000, priceMinorPerKwh: 73, costMinor: 73, currency: 'BRL',
  }
}

const data: Record<string, Receipt[]> = {
  feira: [receipt('feira', 'f1', '2026-11-21T10:00:00Z'), receipt('feira', 'f2', '2026-11-23T10:00:00Z')],
  salvador: [receipt('salvador', 's1', '2026-11-22T10:00:00Z'), receipt('salvador', 'other', '2026-11-24T10:00:00Z', 'V2')],
  ilheus: [receipt('ilheus', 'i1', '2026-11-24T09:00:00Z')],
}
const receipts = async (hubId: string, vehicleId: string): Promise<Receipt[]> => (data[hubId] ?? []).filter((r) => r.vehicleId === vehicleId)

t.test('receipts from every hub, merged newest first, limited', async (t) => {
  const h = await startFederationHubs({ specs: BAHIA, links: BAHIA_LINKS, storage: 'memory', receipts })
  t.teardown(() => h.close())
  const all = await h.hub('feira').call('history.list', {}, 'V1')
  t.same(all.receipts.map((r) => r.sessionId), ['i1', 'f2', 's1', 'f1'])
  t.same([all.partial, all.unreachableHubs], [false, []])
  const two = await h.hub('salvador').call('history.list', { limit: 2 }, 'V1')
  t.same(two.receipts.map((r) => r.sessionId), ['i1', 'f2'], 'any hub gives the same history')
  t.same((await h.hub('feira').call('history.list', {}, 'V2')).receipts.map((r) => r.sessionId), ['other'])
})

t.test('a dead and a hanging peer: partial, named in unreachableHubs, answered within the timeout', async (t) => {
  const hang = await startHangingServer()
  const h = await startFederationHubs({
    specs: BAHIA,
    links: BAHIA_LINKS,
    storage: 'memory',
    receipts,
    fakePeers: [{ hubId: 'morto', url: await deadUrl() }, { hubId: 'lento', url: hang.url }],
    tuning: { historyTimeoutMs: 300 },
  })
  t.teardown(async () => {
    await h.close()
    await hang.close()
  })
  const started = Date.now()
  const res = await h.hub('feira').call('history.list', {}, 'V1')
  t.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms (peer timeout 300 ms)`)
  t.same(res.receipts.map((r) => r.sessionId), ['i1', 'f2', 's1', 'f1'])
  t.same([res.partial, res.unreachableHubs], [true, ['lento', 'morto']])
})
