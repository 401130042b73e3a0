/**
 * MQTT topic-filter matching [MQTT-4.7], used to check a topic or a
 * subscription filter against the permission table. Pure functions, so the
 * embedded broker and the Mosquitto ACL generator share one definition.
 */

/** True when the concrete `topic` (no wildcards) matches `filter`. */
export function topicMatchesFilter(topic: string, filter: string): boolean {
  return levelsMatch(topic.split('/'), filter.split('/'))
}

/** Same as topicMatchesFilter on pre-split levels (the broker's hot path). */
export function levelsMatch(topic: readonly string[], filter: readonly string[]): boolean {
  // [MQTT-4.7.2-1] A filter starting with a wildcard does not match `$` topics.
  if (topic[0]?.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i]
    if (f === '#') return true // also matches the parent level [MQTT-4.7.1-2]
    if (i >= topic.length) return false
    if (f !== '+' && f !== topic[i]) return false
  }
  return topic.length === filter.length
}

/**
 * True when every topic that subscription filter `sub` can match is also
 * matched by `allowed`: the subscription asks for nothing beyond the grant.
 * `voltway/v1/vehicles/+/res` is not within `voltway/v1/vehicles/V1/#`, so a
 * vehicle cannot widen its view with wildcards.
 */
export function filterWithin(sub: readonly string[], allowed: readonly string[]): boolean {
  for (let i = 0; i < allowed.length; i++) {
    const a = allowed[i]
    if (a === '#') return !(sub[0]?.startsWith('$') === true && i === 0)
    if (i >= sub.length) return false
    const s = sub[i]
    if (s === '#') return false
    if (a === '+') {
      if (i === 0 && s?.startsWith('$')) return false
      continue
    }
    if (s === '+' || s !== a) return false
  }
  return sub.length === allowed.length
}

/** A syntactically valid subscription filter [MQTT-4.7.1]: `#` last and alone, `+` alone in its level. */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false
  const levels = filter.split('/')
  return levels.every((l, i) => (l.includes('#') ? l === '#' && i === levels.length - 1 : !l.includes('+') || l === '+'))
}
