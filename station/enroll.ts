/**
 * Station enrollment (docs/configuration.md "Accounts"): trade the one-time
 * code the hub operator gave (`voltway hub station add`) for this station's
 * MQTT password, at the hub's `POST /enroll/v1`. The hub generates the
 * password and keeps only its hash; this is the one time it is sent.
 */
import { Agent, fetch } from 'undici'
import { EnrollAnswer, VoltwayError, isErrorCode, isTlsErrorCode, type EnrollAnswer as Answer } from '../protocol/index.js'

/** The hub's HTTP URL when `--hub-http` is not given: the broker's host, the default HTTP port 8025. */
export function defaultHubHttp(mqttUrl: string): string {
  const u = new URL(mqttUrl)
  return `${u.protocol === 'mqtts:' || u.protocol === 'wss:' ? 'https' : 'http'}://${u.hostname}:8025`
}

export interface EnrollOptions {
  /** PEM of the CA to trust for an https:// hub (default: the system's CAs). */
  ca?: Buffer
  timeoutMs?: number
}

/**
 * POST `{stationId, code}` to `<hubHttp>/enroll/v1`. Throws VoltwayError with
 * the hub's code (ENROLLMENT_REFUSED for a used, expired or unknown code), or
 * PEER_UNAVAILABLE when the hub cannot be reached (or its certificate is not
 * trusted) or answers nonsense.
 */
export async function enrollStation(hubHttp: string, stationId: string, code: string, opts: EnrollOptions = {}): Promise<Answer> {
  const url = new URL('/enroll/v1', hubHttp)
  const dispatcher = opts.ca === undefined ? undefined : new Agent({ connect: { ca: opts.ca } })
  let res: Awaited<ReturnType<typeof fetch>>
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stationId, code }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      ...(dispatcher ? { dispatcher } : {}),
    })
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    const tls = isTlsErrorCode(cause?.code)
    const hint = tls ? "; the hub's certificate is not trusted: give --ca with the CA that signed it" : "; check --hub-http (the hub's http.host and http.port)"
    void dispatcher?.close()
    throw new VoltwayError('PEER_UNAVAILABLE', `cannot reach the hub at ${url.href} (${cause?.message ?? (err as Error).message})${hint}`, tls ? { tls: true } : {})
  }
  const body: unknown = await res.json().catch(() => null)
  void dispatcher?.close()
  if (!res.ok) {
    const e = (body as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } } | null)?.error
    if (e && isErrorCode(e.code) && typeof e.message === 'string') throw new VoltwayError(e.code, e.message, e.details)
    throw new VoltwayError('PEER_UNAVAILABLE', `the hub at ${url.href} answered HTTP ${res.status} without a Voltway error; check --hub-http`)
  }
  const parsed = EnrollAnswer.safeParse(body)
  if (!parsed.success || parsed.data.stationId !== stationId) throw new VoltwayError('PEER_UNAVAILABLE', `the hub at ${url.href} answered an enrollment this agent cannot read; check --hub-http and the hub's version`)
  return parsed.data
}
