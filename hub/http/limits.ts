/**
 * Timeouts and limits of the hub's HTTP server, so a client that opens a
 * socket and never finishes (half-open requests, slowloris) cannot hold a
 * file descriptor for long. The operator guide lists them ("HTTP limits").
 */
export interface HttpLimits {
  /** Longest time to receive a request's headers, in ms (Node `headersTimeout`). Default 10 s. */
  headersTimeoutMs: number
  /** Longest time to receive a whole request, headers and body, in ms (Node `requestTimeout`). Default 30 s. */
  requestTimeoutMs: number
  /**
   * A socket with no traffic either way for this long is closed, in ms
   * (fastify `connectionTimeout`). Longer than the slowest answer a route
   * may take (wait-die waits up to 5 s). Default 60 s.
   */
  idleTimeoutMs: number
  /** An idle keep-alive connection is closed after this, in ms (announced in `Keep-Alive: timeout=`). Default 5 s. */
  keepAliveTimeoutMs: number
  /** Requests served on one keep-alive connection before it is closed; 0 = no limit. Default 1000. */
  maxRequestsPerSocket: number
  /** How often Node checks the header and request timeouts, in ms. Default 1 s (Node's own is 30 s). */
  checkIntervalMs: number
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1000,
  checkIntervalMs: 1_000,
}
