/**
 * Name, city and position of every hub a route may pass: this hub's from its
 * config, each peer's from its `GET /federation/v1/hub`, cached. A stale
 * entry is refreshed in the background and still served meanwhile; a peer
 * never heard from is PEER_UNAVAILABLE.
 */
import type { Logger } from 'pino'
import type { FedHubInfo, Position } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'

export interface HubSummary {
  hubId: string
  name: string
  city: string
  position: Position
}

export interface HubDirectoryOptions {
  self: HubSummary
  /** Fetch a peer's `GET /federation/v1/hub`. */
  fetch: (hubId: string) => Promise<FedHubInfo>
  clock: Clock
  logger: Logger
  /** Entries older than this are refreshed. Default 5 min. */
  ttlMs?: number
}

interface Entry {
  summary: HubSummary
  fetchedAtMs: number
}

export class HubDirectory {
  readonly #o: HubDirectoryOptions
  readonly #cache = new Map<string, Entry>()
  readonly #inFlight = new Map<string, Promise<HubSummary>>()

  constructor(opts: HubDirectoryOptions) {
    this.#o = opts
  }

  async get(hubId: string): Promise<HubSummary> {
    if (hubId === this.#o.self.hubId) return this.#o.self
    const hit = this.#cache.get(hubId)
    if (hit) {
      if (this.#o.clock.now() - hit.fetchedAtMs > (this.#o.ttlMs ?? 300_000)) this.#refresh(hubId).catch(() => undefined)
      return hit.summary
    }
    return this.#refresh(hubId)
  }

  /** This hub and every given peer already known, without waiting; a peer unknown or stale is fetched in the background. */
  cached(hubIds: readonly string[]): HubSummary[] {
    const out = [this.#o.self]
    for (const id of hubIds) {
      const hit = this.#cache.get(id)
      if (!hit || this.#o.clock.now() - hit.fetchedAtMs > (this.#o.ttlMs ?? 300_000)) this.#refresh(id).catch(() => undefined)
      if (hit) out.push(hit.summary)
    }
    return out
  }

  /** Fetch every given peer now (at start-up); failures are logged, not thrown. */
  async prefetch(hubIds: readonly string[]): Promise<void> {
    await Promise.all(
      hubIds.map((id) => this.#refresh(id).catch((err: unknown) => this.#o.logger.info({ hubId: id, err: String(err) }, 'peer hub info not available yet'))),
    )
  }

  #refresh(hubId: string): Promise<HubSummary> {
    let p = this.#inFlight.get(hubId)
    if (!p) {
      p = this.#o
        .fetch(hubId)
        .then((info) => {
          const summary = { hubId, name: info.name, city: info.city, position: info.position }
          this.#cache.set(hubId, { summary, fetchedAtMs: this.#o.clock.now() })
          return summary
        })
        .finally(() => this.#inFlight.delete(hubId))
      this.#inFlight.set(hubId, p)
    }
    return p
  }
}
