/**
 * The hub's retained state `voltway/v1/hubs/H/state` (`{online, hubId, ts}`,
 * docs/protocol.md "Hub gone"): stations run their offline limit while it says
 * `online: false`, so it must say what is true of the hub as a whole, not of
 * one replica.
 *
 * - The hub publishes `online: true` once it serves requests; its Last Will
 *   (`will`) is `online: false`, so a hub that dies is seen gone.
 * - While it runs, the hub watches the topic: when it goes `online: false`
 *   (another replica's Last Will, or a stop of one that thought it was the
 *   last), a running hub publishes `online: true` again; so it does after
 *   each reconnect to the broker (which may have published its own Will
 *   while the connection was down). A replica killed
 *   while others run thus marks the hub offline only for the moment until a
 *   survivor answers (one broker round trip).
 * - A clean stop says `online: false` only when no other replica runs. A
 *   replica asks first on `voltway/v1/hubs/H/replicas/probe`; the running ones
 *   answer on `.../replicas/alive`. An answer within `probeMs` means another
 *   runs: the stopping replica leaves the state as it is (and its Will, which
 *   a clean MQTT disconnect discards [MQTT-3.1.2-10], is never sent). Two
 *   replicas that stop at once do not answer each other (a stopping replica
 *   never answers), so both say offline and the hub ends offline, as it is.
 *   A hub run alone (no `replica`) asks nobody when it stops.
 * - A hub started without `replica` probes once when it comes online: a
 *   replica of the same hub answering means someone runs this hub both ways
 *   on one broker (each request would then run twice: the lone hub does not
 *   share the replicas' subscription), which is logged as an error naming
 *   the fix.
 */
import { randomBytes } from 'node:crypto'
import type { IClientOptions, MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { z } from 'zod'
import { HubState, formatTime, parseJsonObject, topics } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'

/** A probe (`replicas/probe`) or its answer (`replicas/alive`): who sends it, and which probe. */
const ReplicaMessage = z.object({ replica: z.string().min(1).max(128), probe: z.string().min(1).max(64) })

export interface HubPresenceOptions {
  client: MqttClient
  hubId: string
  /** This replica's name (`voltway hub --replica NAME`); absent for a hub run alone. */
  replica?: string
  clock: Clock
  logger: Logger
  /** How long a stopping replica waits for another replica's answer before it marks the hub offline, ms. Default 1000. */
  probeMs?: number
}

export interface HubPresence {
  /** Watch the state topic (and, as a replica, answer probes). Call before `online()`. */
  start(): Promise<void>
  /** Publish `online: true` (retained) and keep it so while running. */
  online(): Promise<void>
  /** Stop keeping the state; publish `online: false` unless another replica runs. Resolves once published (or skipped). */
  stop(): Promise<void>
}

/** How a hub run alone names itself in its probe (not a valid replica name: `--replica` takes ids, hub/config.ts). */
const LONE = '(no --replica)'

function statePayload(hubId: string, online: boolean, clock: Clock): string {
  return JSON.stringify({ online, hubId, ts: formatTime(clock.now()) })
}

/** The hub's Last Will: its state `online: false`, retained. */
export function hubStateWill(hubId: string, clock: Clock): NonNullable<IClientOptions['will']> {
  return { topic: topics.hubState(hubId), payload: Buffer.from(statePayload(hubId, false, clock)), qos: 1, retain: true }
}

export function createHubPresence(o: HubPresenceOptions): HubPresence {
  const { client, hubId, replica, clock } = o
  const log = o.logger.child({ component: 'hub-presence' })
  const stateTopic = topics.hubState(hubId)
  const probeTopic = topics.hubReplicaProbe(hubId)
  const aliveTopic = topics.hubReplicaAlive(hubId)
  let running = false
  /** The probe a hub run alone sends once online (replicas answering it should not exist). */
  const loneProbe = randomBytes(8).toString('hex')
  /** Probes this replica sent and is waiting on: probe id -> resolve. */
  const waiting = new Map<string, () => void>()

  const publishState = (online: boolean): Promise<void> =>
    client.publishAsync(stateTopic, statePayload(hubId, online, clock), { qos: 1, retain: true }).then(() => undefined)

  const onMessage = (topic: string, payload: Buffer): void => {
    if (topic === stateTopic) {
      if (!running) return
      const json = parseJsonObject(payload)
      const state = json.ok ? HubState.safeParse(json.value) : null
      // An empty (cleared) or unreadable state says nothing true either: put ours back.
      if (state?.success && state.data.online) return
      log.info({ replica }, 'the hub state went offline while this hub runs: publishing online again')
      publishState(true).catch((err: unknown) => log.warn({ err }, 'could not publish the hub state'))
      return
    }
    // The connection is shared: every vehicle request and station message reaches this listener too.
    if (topic !== probeTopic && topic !== aliveTopic) return
    const json = parseJsonObject(payload)
    const parsed = json.ok ? ReplicaMessage.safeParse(json.value) : null
    if (!parsed?.success) return
    const msg = parsed.data
    if (replica === undefined) {
      if (topic === aliveTopic && msg.probe === loneProbe) {
        log.error(
          { otherReplica: msg.replica },
          `replica ${msg.replica} of hub ${hubId} runs on this broker, and this process was started without --replica: each vehicle request then runs in both; start every process of this hub with its own --replica NAME (docs/operator-guide.md "Scale out")`,
        )
      }
      return
    }
    if (topic === probeTopic && running && msg.replica !== replica) {
      client.publishAsync(aliveTopic, JSON.stringify({ replica, probe: msg.probe }), { qos: 1 }).catch(() => undefined)
    } else if (topic === aliveTopic && msg.replica !== replica) {
      waiting.get(msg.probe)?.()
    }
  }

  /** Does another replica run? Asks and waits up to probeMs for one answer. */
  const anotherRuns = async (): Promise<boolean> => {
    if (replica === undefined || !client.connected) return false
    const probe = randomBytes(8).toString('hex')
    let timer: NodeJS.Timeout | undefined
    const answered = new Promise<boolean>((resolve) => {
      waiting.set(probe, () => resolve(true))
      timer = setTimeout(() => resolve(false), o.probeMs ?? 1000)
    })
    try {
      await client.publishAsync(probeTopic, JSON.stringify({ replica, probe }), { qos: 1 })
      return await answered
    } catch {
      return false
    } finally {
      clearTimeout(timer)
      waiting.delete(probe)
    }
  }

  const onReconnect = (): void => {
    if (running) publishState(true).catch((err: unknown) => log.warn({ err }, 'could not publish the hub state'))
  }

  return {
    async start() {
      client.on('message', onMessage)
      client.on('connect', onReconnect)
      const filters = [stateTopic, aliveTopic, ...(replica !== undefined ? [probeTopic] : [])]
      await client.subscribeAsync(filters, { qos: 1 })
    },
    async online() {
      running = true
      await publishState(true)
      if (replica === undefined) {
        client.publishAsync(probeTopic, JSON.stringify({ replica: LONE, probe: loneProbe }), { qos: 1 }).catch(() => undefined)
      }
    },
    async stop() {
      if (!running) {
        client.removeListener('message', onMessage)
        client.removeListener('connect', onReconnect)
        return
      }
      running = false
      if (await anotherRuns()) {
        log.info({ replica }, 'another replica runs: the hub stays online')
      } else if (client.connected) {
        // Disconnected, the broker has sent (or will send) our Will instead.
        await publishState(false).catch(() => undefined)
      }
      client.removeListener('message', onMessage)
      client.removeListener('connect', onReconnect)
    },
  }
}
