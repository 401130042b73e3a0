/**
 * Why the hub's first connection to an external broker (hub.json `mqtt.url`)
 * failed, as the operator should read it at start: the URL, the login and
 * what to do. A refused login is a wrong config (mqtt.username, mqtt.password,
 * or a password file without the login): ConfigError, exit 2, so systemd does
 * not restart the hub in a loop. A broker that does not answer stays exit 1,
 * so systemd starts the hub again once the broker is up. (Once running, a hub
 * the broker refuses keeps retrying: hub/app.ts reconnectOnConnackError.)
 */
import { ConfigError } from '../../protocol/index.js'

/** CONNACK codes for a refused login: MQTT 3.1.1 (4, 5) and MQTT 5 (0x86, 0x87). */
const REFUSED_LOGIN = new Set([4, 5, 0x86, 0x87])

/** Whether `err` (an mqtt.js connect error) is the broker refusing the login. */
export function isRefusedLogin(err: unknown): boolean {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined
  return typeof code === 'number' && REFUSED_LOGIN.has(code)
}

/**
 * `err` from the first CONNECT to `url` as `username` (`replica`: the
 * `--replica` name). A refused login is ConfigError (labelled `hub.json: `,
 * which hub/config.ts inConfigFile turns into the real path); a broker
 * that does not answer an Error naming the URL; anything else is returned as is.
 */
export function brokerStartFailure(err: unknown, url: string, username: string | undefined, replica?: string): unknown {
  if (!(err instanceof Error)) return err
  const code = (err as { code?: unknown }).code
  const where = `hub.json: mqtt.url "${url}"`
  if (isRefusedLogin(err)) {
    const fix = replica !== undefined
      ? `check mqtt.password, and that Mosquitto's password file has the replica's login: run \`voltway hub acl --config hub.json --out DIR --replicas ...,${replica}\` with every replica's name and reload Mosquitto (kill -HUP)`
      : 'check mqtt.username and mqtt.password against the broker\'s password file (`voltway hub acl` writes it)'
    return new ConfigError(`${where}: the broker refused the login ${username ?? '(no username)'} (${err.message}); ${fix}`)
  }
  if (typeof code === 'string' && ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) {
    return new Error(`${where}: the broker does not answer (${err.message}); check that it runs and listens there (\`mosquitto -c DIR/mosquitto.conf\`, see \`voltway hub acl\`)`, { cause: err })
  }
  return err
}
