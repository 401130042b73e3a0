/**
 * Paces each login's requests at the broker: at most `perSecond` on average,
 * `burst` at once (GCRA, the leaky-bucket rule of ATM traffic shaping).
 * A request over the pace is not refused but held back, and aedes reads no
 * further packets from that connection meanwhile, so a flood waits in its own
 * socket instead of in front of every other vehicle's requests.
 */
export interface PacerOptions {
  perSecond: number
  burst: number
  now?: () => number
}

export class RequestPacer {
  readonly #interval: number
  readonly #tolerance: number
  readonly #now: () => number
  /** login -> theoretical arrival time of its next request, ms (one entry per configured login). */
  readonly #tat = new Map<string, number>()
  readonly #timers = new Set<NodeJS.Timeout>()

  constructor(o: PacerOptions) {
    this.#interval = 1000 / o.perSecond
    this.#tolerance = (Math.max(1, o.burst) - 1) * this.#interval
    this.#now = o.now ?? (() => performance.now())
  }

  /** Call `go` once `login` may send another request: at once, or after a delay. */
  pace(login: string, go: () => void): void {
    const t = this.#now()
    const tat = Math.max(this.#tat.get(login) ?? t, t)
    const wait = tat - this.#tolerance - t
    this.#tat.set(login, tat + this.#interval)
    if (wait <= 0) return go()
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      go()
    }, Math.ceil(wait))
    this.#timers.add(timer)
  }

  /** Drop held requests (broker closing). */
  close(): void {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
  }
}
