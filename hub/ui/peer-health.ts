/**
 * Health of the federation as this hub sees it, per configured peer, both ways:
 * - inbound, from the calls the peer makes to this hub (`/federation/v1/*`):
 *   the last call, its latency, how many calls and errors (status >= 500, or
 *   4xx other than 401); calls refused for a missing or unknown token name no
 *   peer, so they are counted for the hub as a whole;
 * - outbound, from this hub's calls to the peer (hub/federation/call-observer.ts):
 *   the last call, its latency and status, how many calls, errors (no answer
 *   or status >= 500) and token refusals (the peer answered 401). The same
 *   reports feed `voltway_federation_client_requests_total{peer,status}`, so
 *   calls = the counter's sum over statuses, errors = its `none` and 5xx,
 *   refusals = its 401.
 * Bounded by the configured peers.
 */
import type { PeerCallReport } from '../federation/call-observer.js'

export interface PeerHealthRow {
  hubId: string
  calls: number
  errors: number
  lastCallAtMs: number | null
  lastLatencyMs: number | null
  lastStatus: number | null
  /** This hub's calls to the peer. `lastStatus` null: no call yet, or the last one was not answered. */
  outbound: { calls: number; errors: number; tokenRefusals: number; lastCallAtMs: number | null; lastLatencyMs: number | null; lastStatus: number | null }
}

const ms = (x: number): number => Math.round(x * 10) / 10

export class PeerHealth {
  readonly #rows = new Map<string, PeerHealthRow>()
  #tokenRefusals = 0
  #lastRefusalAtMs: number | null = null

  constructor(peers: readonly string[]) {
    for (const hubId of peers) {
      const outbound = { calls: 0, errors: 0, tokenRefusals: 0, lastCallAtMs: null, lastLatencyMs: null, lastStatus: null }
      this.#rows.set(hubId, { hubId, calls: 0, errors: 0, lastCallAtMs: null, lastLatencyMs: null, lastStatus: null, outbound })
    }
  }

  /** One federation request answered: `peer` is the authenticated caller, or undefined when the token was refused. */
  onFederationResponse(peer: string | undefined, status: number, latencyMs: number, atMs: number): void {
    if (peer === undefined) {
      if (status === 401) {
        this.#tokenRefusals++
        this.#lastRefusalAtMs = atMs
      }
      return
    }
    const row = this.#rows.get(peer)
    if (!row) return
    row.calls++
    if (status >= 500 || (status >= 400 && status !== 401)) row.errors++
    row.lastCallAtMs = atMs
    row.lastLatencyMs = ms(latencyMs)
    row.lastStatus = status
  }

  /** One call of this hub to a peer ended (`atMs`: hub clock). */
  onOutboundCall(r: PeerCallReport, atMs: number): void {
    const out = this.#rows.get(r.hubId)?.outbound
    if (!out) return
    out.calls++
    if (r.status === null || r.status >= 500) out.errors++
    if (r.status === 401) out.tokenRefusals++
    out.lastCallAtMs = atMs
    out.lastLatencyMs = ms(r.durationMs)
    out.lastStatus = r.status
  }

  snapshot(): { peers: PeerHealthRow[]; tokenRefusals: number; lastRefusalAtMs: number | null } {
    return { peers: [...this.#rows.values()].map((r) => ({ ...r, outbound: { ...r.outbound } })), tokenRefusals: this.#tokenRefusals, lastRefusalAtMs: this.#lastRefusalAtMs }
  }
}
