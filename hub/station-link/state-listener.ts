/**
 * Keeps the station registry's online/status in step with the stations'
 * retained `state` messages and their Last Will (docs/protocol.md, station topics).
 * A message that does not validate is logged and ignored: the station stays
 * as it was.
 */
import type { MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { StationState, parseJsonObject, parseStationTopic, topics } from '../../protocol/index.js'
import type { StationRegistry } from '../stations/index.js'

export interface StateListener {
  start(): Promise<void>
  stop(): void
}

export function createStateListener(client: MqttClient, registry: StationRegistry, logger: Logger): StateListener {
  const log = logger.child({ component: 'station-state' })
  const onMessage = (topic: string, payload: Buffer): void => {
    const t = parseStationTopic(topic)
    if (!t || t.kind !== 'state') return
    if (!registry.has(t.stationId)) {
      log.warn({ stationId: t.stationId }, 'state from a station not in the registry')
      return
    }
    if (payload.length === 0) {
      // A cleared retained message: the station was decommissioned or reset.
      registry.markOffline(t.stationId)
      return
    }
    const json = parseJsonObject(payload)
    const state = json.ok ? StationState.safeParse(json.value) : null
    if (!state?.success) {
      log.warn({ stationId: t.stationId, reason: json.ok ? 'schema' : json.reason }, 'invalid station state ignored')
      return
    }
    registry.applyState(t.stationId, state.data)
    log.debug({ stationId: t.stationId, online: state.data.online, status: state.data.status }, 'station state')
  }
  return {
    async start() {
      client.on('message', onMessage)
      await client.subscribeAsync(topics.stationFilter('state'), { qos: 1 })
    },
    stop() {
      client.removeListener('message', onMessage)
    },
  }
}
