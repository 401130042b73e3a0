/**
 * Commands to stations (`voltway/v1/stations/S/cmd`, QoS 1) and their answers
 * on `.../cmd/res`, matched by command id. A station with a persistent
 * session gets a command queued by the broker while it is away; the caller's
 * wait is bounded by `timeoutMs` either way.
 */
import type { MqttClient } from 'mqtt'
import type { IPublishPacket } from 'mqtt-packet'
import type { Logger } from 'pino'
import { StationCommandResult, VoltwayError, newId, parseJsonObject, parseStationTopic, topics, type StationCommand } from '../../protocol/index.js'

export interface CommandChannel {
  start(): Promise<void>
  stop(): void
  /** Send a command and wait for the station's answer. Rejects with TIMEOUT when none comes in time. */
  send(stationId: string, cmd: Omit<StationCommand, 'id'>, timeoutMs: number): Promise<StationCommandResult>
}

export function createCommandChannel(client: MqttClient, logger: Logger): CommandChannel {
  const log = logger.child({ component: 'station-commands' })
  const pending = new Map<string, { stationId: string; resolve: (r: StationCommandResult) => void }>()

  const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    const t = parseStationTopic(topic)
    if (!t || t.kind !== 'cmd/res') return
    // A retained answer belongs to a command of another time, never to one waiting now.
    if (packet.retain) {
      log.warn({ stationId: t.stationId }, 'retained command answer ignored')
      return
    }
    const json = parseJsonObject(payload)
    const res = json.ok ? StationCommandResult.safeParse(json.value) : null
    if (!res?.success) {
      log.warn({ stationId: t.stationId }, 'invalid command answer ignored')
      return
    }
    const p = pending.get(res.data.id)
    // Only the station the command went to may answer it.
    if (!p || p.stationId !== t.stationId) return
    pending.delete(res.data.id)
    p.resolve(res.data)
  }

  return {
    async start() {
      client.on('message', onMessage)
      await client.subscribeAsync(topics.stationFilter('cmd/res'), { qos: 1 })
    },
    stop() {
      client.removeListener('message', onMessage)
    },
    send(stationId, cmd, timeoutMs) {
      const id = newId('c')
      const body: StationCommand = { id, ...cmd }
      return new Promise<StationCommandResult>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new VoltwayError('TIMEOUT', `station ${stationId} did not answer ${cmd.op} within ${timeoutMs} ms`, { stationId, op: cmd.op }))
        }, timeoutMs)
        pending.set(id, {
          stationId,
          resolve: (r) => {
            clearTimeout(timer)
            resolve(r)
          },
        })
        // A command queued for an absent station expires with its caller's wait [MQTT 5 §3.3.2.3.3]:
        // a `start` must never run long after the vehicle was told it failed.
        const expiry = client.options.protocolVersion === 5 ? { properties: { messageExpiryInterval: Math.max(1, Math.ceil(timeoutMs / 1000)) } } : {}
        client.publish(topics.station(stationId, 'cmd'), JSON.stringify(body), { qos: 1, ...expiry }, (err) => {
          if (!err) return
          clearTimeout(timer)
          pending.delete(id)
          reject(new VoltwayError('STATION_OFFLINE', `cannot send ${cmd.op} to station ${stationId}: ${err.message}`))
        })
      })
    },
  }
}
