/**
 * Health of the federation as this hub sees it from the calls peers make to
 * it (`/federation/v1/*`): per peer, the last call, its latency, how many
 * calls and errors (status >= 500, or 4xx other than 401), and how many calls
 * were refused for a missing or unknown token (those name no peer, so they
 * are counted for the hub as a whole). Bounded by the configured peers.
 */
export interface PeerHealthRow {
  hubId: string
  calls: number
  errors: number
  lastCallAtMs: number | null
  lastLatencyMs: number | null
  lastStatus: number | null
}

export class PeerHealth {
  readonly #rows = new Map<string, PeerHealthRow>()
  #tokenRefusals = 0
  #lastRefusalAtMs: number | null = null

  constructor(peers: readonly string[]) {
    for (const hubId of peers) this.#rows.set(hubId, { hubId, calls: 0, errors: 0, lastCallAtMs: null, lastLatencyMs: null, lastStatus: null })
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
    row.lastLatencyMs = Math.round(latencyMs * 10) / 10
    row.lastStatus = status
  }

  snapshot(): { peers: PeerHealthRow[]; tokenRefusals: number; lastRefusalAtMs: number | null } {
    return { peers: [...this.#rows.values()].map((r) => ({ ...r })), tokenRefusals: this.#tokenRefusals, lastRefusalAtMs: this.#lastRefusalAtMs }
  }
}
