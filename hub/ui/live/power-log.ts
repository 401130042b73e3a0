/**
 * Live power and energy of running sessions, from station telemetry: the
 * last reading per station and a bounded history per session (for the
 * station page's chart). Sessions are forgotten when they end; at most
 * `maxPoints` samples are kept per session and `maxSessions` sessions in all.
 */
export interface PowerSample {
  /** Hub clock, epoch ms. */
  t: number
  powerW: number
  meterWh: number
}

export interface StationReading extends PowerSample {
  sessionId: string
}

export class PowerLog {
  readonly #maxPoints: number
  readonly #maxSessions: number
  readonly #byStation = new Map<string, StationReading>()
  readonly #history = new Map<string, PowerSample[]>()
  /** Samples added since the feed last took them. */
  #fresh: Array<{ sessionId: string; stationId: string } & PowerSample> = []

  constructor(o: { maxPoints?: number; maxSessions?: number } = {}) {
    this.#maxPoints = o.maxPoints ?? 1200
    this.#maxSessions = o.maxSessions ?? 5000
  }

  record(stationId: string, sessionId: string, sample: PowerSample): void {
    this.#byStation.set(stationId, { sessionId, ...sample })
    let h = this.#history.get(sessionId)
    if (!h) {
      if (this.#history.size >= this.#maxSessions) {
        const oldest = this.#history.keys().next().value
        if (oldest !== undefined) this.#history.delete(oldest)
      }
      this.#history.set(sessionId, (h = []))
    }
    h.push(sample)
    if (h.length > this.#maxPoints) h.splice(0, h.length - this.#maxPoints)
    if (this.#fresh.length < 100_000) this.#fresh.push({ sessionId, stationId, ...sample })
  }

  /** The station's last reading while `sessionId` runs, or undefined. */
  reading(stationId: string, sessionId: string | null): StationReading | undefined {
    const r = this.#byStation.get(stationId)
    return r && r.sessionId === sessionId ? r : undefined
  }

  history(sessionId: string): PowerSample[] {
    return [...(this.#history.get(sessionId) ?? [])]
  }

  end(stationId: string, sessionId: string): void {
    if (this.#byStation.get(stationId)?.sessionId === sessionId) this.#byStation.delete(stationId)
    this.#history.delete(sessionId)
  }

  /** Samples since the last call, oldest first; at most the latest one per session (the page draws at the feed's pace). */
  takeFresh(): Array<{ sessionId: string; stationId: string } & PowerSample> {
    const last = new Map<string, { sessionId: string; stationId: string } & PowerSample>()
    for (const s of this.#fresh) last.set(s.sessionId, s)
    this.#fresh = []
    return [...last.values()]
  }
}
