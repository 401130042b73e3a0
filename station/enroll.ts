/**
 * Station enrollment (docs/configuration.md "Accounts"): trade the one-time
 * code the hub operator gave (`voltway hub station add`) for this station's
 * MQTT password, at the hub's `POST /enroll/v1`. The hub generates the
 * password and keeps only its hash; this is the one time it is sent.
 */
import { EnrollAnswer, VoltwayError, isErrorCode, type EnrollAnswer as Answer } from '../protocol/index.js'

/** The hub's HTTP URL when `--hub-http` is not given: the broker's host, the default HTTP port 8025. */
export function defaultHubHttp(mqttUrl: string): string {
  const u = new URL(mqttUrl)
  return `${u.protocol === 'mqtts:' || u.protocol === 'wss:' ? 'https' : 'http'}://${u.hostname}:8025`
}

/**
 * POST `{stationId, code}` to `<hubHttp>/enroll/v1`. Throws VoltwayError with
 * the hub's code (ENROLLMENT_REFUSED for a used, expired or unknown code), or
 * PEER_UNAVAILABLE when the hub cannot be reached or answers nonsense.
 */
export async function enrollStation(hubHttp: string, stationId: string, code: string, timeoutMs = 10_000): Promise<Answer> {
  const url = new URL('/enroll/v1', hubHttp)
  let res: Response
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stationId, code }), signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    throw new VoltwayError('PEER_UNAVAILABLE', `cannot reach the hub at ${url.href} (${(err as Error).message}); check --hub-http (the hub's http.host and http.port)`)
  }
  const body: unknown = await res.json().catch(() => null)
  if (!res.ok) {
    const e = (body as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } } | null)?.error
    if (e && isErrorCode(e.code) && typeof e.message === 'string') throw new VoltwayError(e.code, e.message, e.details)
    throw new VoltwayError('PEER_UNAVAILABLE', `the hub at ${url.href} answered HTTP ${res.status} without a Voltway error; check --hub-http`)
  }
  const parsed = EnrollAnswer.safeParse(body)
  if (!parsed.success || parsed.data.stationId !== stationId) throw new VoltwayError('PEER_UNAVAILABLE', `the hub at ${url.href} answered an enrollment this agent cannot read; check --hub-http and the hub's version`)
  return parsed.data
}
