/**
 * Client ids on the embedded broker belong to their login. Every session id
 * is the username itself or `<username>:<the id the client gave>`, and an
 * anonymous client's is `:<the id it gave>`. `:` is outside the id alphabet
 * (`^[A-Za-z0-9_-]{1,64}$`) and the hub's `hub.<id>`, so no client id can
 * name another login's session [MQTT-3.1.4-2 takeover stays within a login],
 * while stock clients (mosquitto_sub and mosquitto_pub without `-i`, which
 * send `mosq-<random>` or an empty id) each get a session of their own.
 */
import { randomBytes } from 'node:crypto'

/** The session id for a client of `username` (undefined: anonymous) that gave `given` ('' gets a random one). */
export function sessionIdFor(username: string | undefined, given: string): string {
  const id = given === '' ? randomBytes(8).toString('hex') : given
  if (username === undefined) return `:${id}`
  if (id === username || id.startsWith(`${username}:`)) return id
  return `${username}:${id}`
}

/** The login a session id belongs to ('' for anonymous). */
export function loginOfSessionId(id: string): string {
  const colon = id.indexOf(':')
  return colon === -1 ? id : id.slice(0, colon)
}
