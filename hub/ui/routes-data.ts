/**
 * The dashboard's JSON: `/ui/api/overview` (hub and every station's row),
 * `/ui/api/stations/:id` (one station: row, power history of its session,
 * its stored events with the journal's notes, its last receipts from the
 * store, clock skew), `/ui/api/bookings` (next 24 h),
 * `/ui/api/federation` (peers' health both ways, the road graph's links
 * and the hubs' positions), `/ui/api/receipts` and
 * `/ui/api/receipts.csv` (from the store, newest first, at most 5000: filters
 * `day=YYYY-MM-DD` (UTC) and `station`),
 * `/ui/api/metrics` (the `/metrics` figures as JSON) and the live stream
 * `/ui/api/events`.
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { VoltwayError, formatTime, Id } from '../../protocol/index.js'
import { peerUrls } from '../config.js'
import type { ReceiptRecord } from '../store/index.js'
import { toCsv } from './csv.js'
import type { UiHubDeps, UiParts } from './deps.js'
import { sseHandler } from './live/sse.js'
import { stationHistory } from './live/station-history.js'

const ReceiptFilter = z.strictObject({
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD').optional(),
  station: Id.optional(),
})

function parseFilter(query: unknown): { stationId?: string; fromMs?: number; toMs?: number; limit: number } {
  const q = ReceiptFilter.safeParse(query ?? {})
  if (!q.success) throw new VoltwayError('BAD_REQUEST', `bad receipt filter: ${q.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ')}`)
  const fromMs = q.data.day === undefined ? undefined : Date.parse(`${q.data.day}T00:00:00Z`)
  if (fromMs !== undefined && !Number.isFinite(fromMs)) throw new VoltwayError('BAD_REQUEST', `bad receipt filter: day ${q.data.day} is not a date`)
  return {
    limit: 5000,
    ...(q.data.station !== undefined ? { stationId: q.data.station } : {}),
    ...(fromMs !== undefined ? { fromMs, toMs: fromMs + 86_400_000 } : {}),
  }
}

const wireReceipt = (r: ReceiptRecord) => ({ ...r, startedAt: formatTime(r.startedAtMs), endedAt: formatTime(r.endedAtMs) })

export function dataRoutes(scope: FastifyInstance, d: UiHubDeps, p: UiParts): void {
  const { config } = d
  scope.get('/ui/api/overview', async () => ({
    hub: { hubId: config.hubId, name: config.name, city: config.city, position: config.position, currency: config.currency },
    stations: p.views.all(p.bookings.nextByStation),
  }))

  scope.get('/ui/api/stations/:id', async (req) => {
    const { id } = req.params as { id: string }
    const row = p.views.all(p.bookings.nextByStation).find((v) => v.id === id)
    if (!row) throw new VoltwayError('NOT_FOUND', `no station ${id} at hub ${config.hubId}`)
    const skew = (await d.metrics.registry.getSingleMetric('voltway_station_clock_skew_seconds')?.get())?.values.find((v) => v.labels.station === id)
    return {
      station: row,
      power: row.sessionId === null ? [] : p.power.history(row.sessionId),
      events: await stationHistory(d.store, p.journal, id, 100),
      receipts: (await d.store.charging.listReceiptsBetween({ stationId: id, limit: 20 })).map(wireReceipt),
      clockSkewSeconds: skew?.value ?? null,
    }
  })

  scope.get('/ui/api/bookings', async () => ({ ...(await p.bookings.picture()), stations: d.stations.all().map((s) => s.stationId), hubId: config.hubId }))

  scope.get('/ui/api/federation', async () => ({
    hubId: config.hubId,
    ...p.peers.snapshot(),
    configured: config.federation.peers.map((x) => ({ hubId: x.hubId, url: peerUrls(x).join(' ') })),
    links: config.federation.links,
    hubs: d.hubs ? d.hubs() : [{ hubId: config.hubId, name: config.name, city: config.city, position: config.position }],
  }))

  scope.get('/ui/api/receipts', async (req) => ({ receipts: (await d.store.charging.listReceiptsBetween(parseFilter(req.query))).map(wireReceipt) }))

  scope.get('/ui/api/receipts.csv', async (req, reply) => {
    const rows = (await d.store.charging.listReceiptsBetween(parseFilter(req.query))).map((r) => [r.sessionId, r.stationId, r.vehicleId, formatTime(r.startedAtMs), formatTime(r.endedAtMs), r.energyWh, r.priceMinorPerKwh, r.costMinor, r.currency])
    const csv = toCsv(['sessionId', 'stationId', 'vehicleId', 'startedAt', 'endedAt', 'energyWh', 'priceMinorPerKwh', 'costMinor', 'currency'], rows)
    return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="receipts-${config.hubId}.csv"`).send(csv)
  })

  scope.get('/ui/api/metrics', async () => ({ metrics: await d.metrics.registry.getMetricsAsJSON() }))

  scope.get('/ui/api/events', sseHandler(p.feed))
}
