/**
 * Card authorization requests from stations (`voltway/v1/stations/S/auth`,
 * an addition; docs/protocol.md "Cards at the charger"), answered on
 * `.../S/auth/res` with the same `id`. Only station S may publish on its own
 * `auth` topic (the broker's permission table), so the station id comes from
 * the topic. Retained and invalid requests are ignored.
 */
import type { MqttClient } from 'mqtt'
import type { IPublishPacket } from 'mqtt-packet'
import type { Logger } from 'pino'
import { CardAuthRequest, parseJsonObject, parseStationTopic, topics, type CardAuthResult } from '../../protocol/index.js'

export interface CardAuthority {
  authorize(stationId: string, id: string, idTag: string): Promise<CardAuthResult>
}

export interface AuthListener {
  start(): Promise<void>
  stop(): void
}

export interface AuthListenerOptions {
  /** MQTT shared-subscription group (hub replicas): each card request reaches one replica, so the station gets one answer. */
  shareGroup?: string
}

export function createAuthListener(client: MqttClient, authority: CardAuthority, logger: Logger, opts: AuthListenerOptions = {}): AuthListener {
  const filter = opts.shareGroup === undefined ? topics.stationFilter('auth') : `$share/${opts.shareGroup}/${topics.stationFilter('auth')}`
  const log = logger.child({ component: 'station-auth' })
  const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    const t = parseStationTopic(topic)
    if (!t || t.kind !== 'auth') return
    if (packet.retain) {
      log.warn({ stationId: t.stationId }, 'retained card request ignored')
      return
    }
    const json = parseJsonObject(payload)
    const req = json.ok ? CardAuthRequest.safeParse(json.value) : null
    if (!req?.success) {
      log.warn({ stationId: t.stationId }, 'invalid card request ignored')
      return
    }
    authority.authorize(t.stationId, req.data.id, req.data.idTag).then(
      (res) => client.publishAsync(topics.station(t.stationId, 'auth/res'), JSON.stringify(res), { qos: 1 }),
      (err: unknown) => log.error({ err, stationId: t.stationId }, 'card request failed; the station decides from its cache'),
    ).catch((err: unknown) => log.warn({ err: String(err), stationId: t.stationId }, 'card answer not published'))
  }
  return {
    async start() {
      client.on('message', onMessage)
      await client.subscribeAsync(filter, { qos: 1 })
    },
    stop() {
      client.removeListener('message', onMessage)
    },
  }
}
