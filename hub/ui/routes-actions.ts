/**
 * Operator actions (POST, CSRF header checked by the guard):
 * `/ui/api/stations/:id/stop` ends the running session as its vehicle's
 * `charge.stop` would (the receipt follows), `/disable` and `/enable` send the
 * station command (hub/charging/station-control.ts). Each is logged with the
 * operator's name and noted in the journal; errors are the hub's coded ones.
 */
import type { FastifyInstance } from 'fastify'
import { VoltwayError } from '../../protocol/index.js'
import type { UiHubDeps, UiParts } from './deps.js'

export function actionRoutes(scope: FastifyInstance, d: UiHubDeps, p: UiParts): void {
  const log = d.logger.child({ component: 'ui-actions' })
  const note = (stationId: string, operator: string | undefined, text: string): void => {
    log.info({ stationId, operator }, text)
    p.journal.add({ atMs: d.clock.now(), stationId, kind: 'action', text: `${operator ?? 'operator'}: ${text}` })
  }

  scope.post('/ui/api/stations/:id/stop', async (req) => {
    const { id } = req.params as { id: string }
    const station = d.stations.get(id)
    if (!station) throw new VoltwayError('NOT_FOUND', `no station ${id} at hub ${d.config.hubId}`)
    const active = await d.store.charging.activeSession(id)
    if (!active) throw new VoltwayError('NOT_FOUND', `station ${id} has no running session`)
    const { receipt } = await d.charging.stop(active.vehicleId, active.sessionId)
    note(id, req.uiSession?.operator, `stopped session ${active.sessionId}`)
    return { receipt }
  })

  for (const [path, enabled] of [['enable', true], ['disable', false]] as const) {
    scope.post(`/ui/api/stations/:id/${path}`, async (req) => {
      const { id } = req.params as { id: string }
      await (enabled ? d.stationControl.enable(id) : d.stationControl.disable(id))
      note(id, req.uiSession?.operator, `${path}d the station`)
      return { ok: true }
    })
  }
}
