/**
 * What the federation client tells about each call it made to a peer, after
 * the call ends (answered, refused, failed or timed out): the feed of the
 * outbound half of the peers' health (hub/ui/peer-health.ts) and of the
 * `voltway_federation_client_*` metrics (hub/metrics.ts), which therefore
 * count the same calls.
 */

/** One call to a peer, seen from this hub. */
export interface PeerCallReport {
  hubId: string
  method: string
  /** The request path without its query string, e.g. `/federation/v1/holds`. */
  path: string
  /** HTTP status of the peer's (last, after retries) answer; null when it never answered (connection error, timeout). */
  status: number | null
  /** From the call's start to its end, retries included, in ms. */
  durationMs: number
}

/** Called once per call; must not throw (what it throws is dropped) and should be quick. */
export type PeerCallObserver = (report: PeerCallReport) => void

/**
 * Run `send` and report it to `observer` when it settles. `send` is handed a
 * function to tell the HTTP status as soon as the answer's head arrives.
 */
export async function observeCall<T>(
  observer: PeerCallObserver | undefined,
  hubId: string,
  call: { method: string; path: string },
  send: (onStatus: (status: number) => void) => Promise<T>,
): Promise<T> {
  if (!observer) return send(() => undefined)
  const started = performance.now()
  let status: number | null = null
  try {
    return await send((s) => {
      status = s
    })
  } finally {
    try {
      observer({ hubId, method: call.method, path: call.path.split('?')[0] ?? '', status, durationMs: performance.now() - started })
    } catch {
      // An observer's failure is never the call's.
    }
  }
}
