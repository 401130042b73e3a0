/**
 * How many sessions one login may hold on the embedded broker: its live
 * connections plus its persistent sessions kept while offline, at most `max`.
 * A login at its limit that connects with a new session id first loses its
 * oldest offline persistent session; when all of them are live connections,
 * the new one is refused. Pure bookkeeping: the broker wipes what it is told.
 */
export interface Admission {
  ok: boolean
  /** An offline persistent session of the same login to wipe first. */
  evict?: string
}

export class SessionQuota {
  readonly #max: number
  /** login -> live connection -> its session id. */
  readonly #live = new Map<string, Map<object, string>>()
  /** login -> persistent session ids, least recently used first. */
  readonly #stored = new Map<string, Set<string>>()

  constructor(max: number) {
    this.#max = max
  }

  /**
   * A client of `login` authenticates with session `id`. `persistent`: its
   * session outlives the connection. `countLive: false` counts only its
   * persistent sessions (anonymous readers share one login).
   */
  admit(login: string, id: string, conn: object, persistent: boolean, countLive = true): Admission {
    const live = this.#live.get(login) ?? new Map<object, string>()
    const stored = this.#stored.get(login) ?? new Set<string>()
    const liveIds = new Set(live.values())
    const held = new Set([...(countLive ? liveIds : []), ...stored])
    let evict: string | undefined
    if (!held.has(id) && (countLive || persistent) && held.size >= this.#max) {
      evict = [...stored].find((s) => !liveIds.has(s))
      if (evict === undefined) return { ok: false }
      stored.delete(evict)
    }
    live.set(conn, id)
    this.#live.set(login, live)
    stored.delete(id)
    if (persistent) stored.add(id)
    if (stored.size > 0) this.#stored.set(login, stored)
    else this.#stored.delete(login)
    return evict === undefined ? { ok: true } : { ok: true, evict }
  }

  /** A connection admitted earlier has closed (its persistent session, if any, stays). */
  closed(login: string, conn: object): void {
    const live = this.#live.get(login)
    if (!live) return
    live.delete(conn)
    if (live.size === 0) this.#live.delete(login)
  }

  /** A persistent session ended (expired, or wiped by the broker). */
  ended(login: string, id: string): void {
    const stored = this.#stored.get(login)
    if (!stored) return
    stored.delete(id)
    if (stored.size === 0) this.#stored.delete(login)
  }

  /** Persistent session ids held for `login`, oldest first. */
  sessionsOf(login: string): string[] {
    return [...(this.#stored.get(login) ?? [])]
  }

  /** Live connections of every login that has any. */
  liveByLogin(): Record<string, number> {
    return Object.fromEntries([...this.#live].map(([login, conns]) => [login, conns.size]))
  }

  /** Persistent session ids of every login. */
  allSessions(): string[] {
    return [...this.#stored.values()].flatMap((s) => [...s])
  }
}
