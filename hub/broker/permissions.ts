/**
 * The MQTT permission table of docs/protocol.md, as data. The embedded broker
 * enforces it and the Mosquitto ACL generator writes it out, so both brokers
 * enforce one definition. `{id}` stands for the client's own username.
 */
import { TOPIC_ROOT } from '../../protocol/index.js'
import { filterWithin, levelsMatch } from './topic-filter.js'

export type IdentityKind = 'vehicle' | 'station' | 'hub' | 'anonymous'

export interface Identity {
  kind: IdentityKind
  /** The username (vehicle id, station id, or the hub's internal username); '' when anonymous. */
  id: string
}

export interface RoleRules {
  /** Topic filters the client may publish to (its Last Will included). */
  publish: readonly string[]
  /** Topic filters the client may subscribe to and receive from. */
  subscribe: readonly string[]
  /**
   * Topic filters a Last Will may go to: a subset of `publish`. A station's
   * will is its `online: false` state, never a fake event or reply.
   */
  will: readonly string[]
}

const R = TOPIC_ROOT

/** docs/protocol.md "MQTT": who may publish and subscribe to what. */
export const PERMISSIONS: Readonly<Record<IdentityKind, RoleRules>> = {
  vehicle: {
    publish: [`${R}/hubs/+/req/{id}`],
    subscribe: [`${R}/vehicles/{id}/#`, `${R}/stations/+/state`, `${R}/hubs/+/state`],
    will: [`${R}/hubs/+/req/{id}`],
  },
  station: {
    // auth / auth/res: cards tapped at the charger (an addition).
    publish: [`${R}/stations/{id}/state`, `${R}/stations/{id}/telemetry`, `${R}/stations/{id}/events`, `${R}/stations/{id}/cmd/res`, `${R}/stations/{id}/auth`],
    // hubs/+/state: the agent's offline limit runs while its hub is gone (its Last Will), not only while the broker is.
    subscribe: [`${R}/stations/{id}/cmd`, `${R}/stations/{id}/ack`, `${R}/hubs/+/state`, `${R}/stations/{id}/auth/res`],
    will: [`${R}/stations/{id}/state`],
  },
  hub: {
    publish: [`${R}/#`],
    subscribe: [`${R}/#`],
    will: [`${R}/#`],
  },
  // Only when the operator turns anonymous access on: read the public state topics, nothing else.
  anonymous: {
    publish: [],
    subscribe: [`${R}/stations/+/state`, `${R}/hubs/+/state`],
    will: [],
  },
}

/** The rules of one identity with `{id}` filled in, pre-split into levels for the broker's hot path. */
export interface CompiledRules {
  publish: string[][]
  subscribe: string[][]
  will: string[][]
}

export function expandFilter(filter: string, id: string): string {
  return filter.replaceAll('{id}', id)
}

export function compileRules(identity: Identity): CompiledRules {
  const rules = PERMISSIONS[identity.kind]
  const split = (list: readonly string[]): string[][] => list.map((f) => expandFilter(f, identity.id).split('/'))
  return { publish: split(rules.publish), subscribe: split(rules.subscribe), will: split(rules.will) }
}

/** May this identity publish to the concrete `topic`? */
export function canPublish(rules: CompiledRules, topic: string): boolean {
  const levels = topic.split('/')
  return rules.publish.some((f) => levelsMatch(levels, f))
}

/** May this identity's Last Will go to `topic`? */
export function canWill(rules: CompiledRules, topic: string): boolean {
  const levels = topic.split('/')
  return rules.will.some((f) => levelsMatch(levels, f))
}

/** May this identity receive a message on the concrete `topic`? (delivery-time check) */
export function canRead(rules: CompiledRules, topic: string): boolean {
  const levels = topic.split('/')
  return rules.subscribe.some((f) => levelsMatch(levels, f))
}

/** Does the subscription `filter` stay within what this identity may read? Wildcards may not widen it. */
export function canSubscribe(rules: CompiledRules, filter: string): boolean {
  const levels = filter.split('/')
  return rules.subscribe.some((f) => filterWithin(levels, f))
}

/**
 * May a message on `topic` be retained? Not on the topics whose messages are
 * orders or one-time reports (requests, station commands and their answers,
 * acks, events): retained, they would be delivered again to every new
 * subscriber (a hub after each restart, a station at each connect) and run again.
 */
export function canRetain(topic: string): boolean {
  const levels = topic.split('/')
  return !NEVER_RETAINED.some((f) => levelsMatch(levels, f))
}

const NEVER_RETAINED = [`${R}/hubs/+/req/+`, `${R}/stations/+/cmd`, `${R}/stations/+/cmd/res`, `${R}/stations/+/ack`, `${R}/stations/+/events`, `${R}/stations/+/auth`, `${R}/stations/+/auth/res`].map((f) => f.split('/'))
