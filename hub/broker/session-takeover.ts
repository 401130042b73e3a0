/**
 * Noticing that another process uses this hub's MQTT login. Two processes
 * with one client id take the session from each other for as long as both
 * run (MQTT 5 section 3.1.4: the server disconnects the existing client), each
 * reconnecting a second later: requests and events land on whichever holds
 * it, and /healthz flickers. The usual cause is the same `--replica NAME`
 * started twice.
 *
 * Two signs, either is reported: a DISCONNECT with reason 0x8E "Session taken
 * over" (MQTT 5 section 3.14.2.1; aedes sends it), or, from brokers that just
 * close the old connection (Mosquitto 2), the connection closed soon after
 * each of several logins in a row.
 */
import type { MqttClient } from 'mqtt'
import type { Clock } from '../../base/clock.js'

/** MQTT 5 reason code 0x8E, Session taken over. */
const SESSION_TAKEN_OVER = 0x8e
/** A connection that lasted less than this counts as cut short. */
const SHORT_MS = 5000
/** This many short connections in a row are reported (then again after as many more). */
const IN_A_ROW = 3

export interface SessionTakeoverOptions {
  clock: Clock
  /** Told why it thinks so: `'session taken over (MQTT 5 reason 0x8E)'` or `'the broker closed this hub's connection right after each of 3 logins'`. */
  onTakeover: (why: string) => void
}

export function watchSessionTakeover(client: MqttClient, opts: SessionTakeoverOptions): void {
  let connectedAt: number | null = null
  let short = 0
  client.on('connect', () => {
    connectedAt = opts.clock.now()
  })
  client.on('disconnect', (packet) => {
    if (packet.reasonCode === SESSION_TAKEN_OVER) opts.onTakeover('session taken over (MQTT 5 reason 0x8E)')
  })
  client.on('close', () => {
    if (connectedAt === null) return
    const lasted = opts.clock.now() - connectedAt
    connectedAt = null
    if (lasted >= SHORT_MS) {
      short = 0
      return
    }
    short++
    if (short % IN_A_ROW === 0) opts.onTakeover(`the broker closed this hub's connection right after each of ${short} logins in a row`)
  })
}
