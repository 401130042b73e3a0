/**
 * Runs async jobs fairly across keys (vehicles): at most `concurrency` jobs at
 * once in all, at most `perKeyConcurrency` of one key, and at most
 * `perKeyLimit` of one key running or waiting. Keys with waiting jobs take turns
 * (round robin), so a key that submits thousands of jobs delays another key's
 * job by at most one turn, not by its whole backlog.
 */
export interface FairSchedulerOptions {
  /** Jobs running at once, all keys together. */
  concurrency: number
  /** Jobs of one key running at once. */
  perKeyConcurrency: number
  /** Jobs of one key running or waiting; `submit` refuses beyond it. */
  perKeyLimit: number
}

type Job = () => Promise<void>

export class FairScheduler {
  readonly #o: FairSchedulerOptions
  /** Waiting jobs per key; Map order is the round-robin order (a key that just ran moves to the end). */
  readonly #waiting = new Map<string, Job[]>()
  readonly #running = new Map<string, number>()
  #active = 0
  #pending = 0
  #idle: Array<() => void> = []

  constructor(opts: FairSchedulerOptions) {
    this.#o = opts
  }

  /** Jobs submitted and not yet finished (running or waiting). */
  get pending(): number {
    return this.#pending
  }

  /** Jobs of `key` running or waiting. */
  load(key: string): number {
    return (this.#running.get(key) ?? 0) + (this.#waiting.get(key)?.length ?? 0)
  }

  /** Queue `job` under `key`; false (and the job is dropped) when the key's queue is full. A job's rejection is its own to handle. */
  submit(key: string, job: Job): boolean {
    if (this.load(key) >= this.#o.perKeyLimit) return false
    const queue = this.#waiting.get(key)
    if (queue) queue.push(job)
    else this.#waiting.set(key, [job])
    this.#pending++
    this.#pump()
    return true
  }

  /** Resolves once nothing is running or waiting. */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #pump(): void {
    while (this.#active < this.#o.concurrency) {
      const key = this.#nextKey()
      if (key === undefined) return
      const queue = this.#waiting.get(key) as Job[]
      const job = queue.shift() as Job
      // Take the turn: this key goes to the back of the line.
      this.#waiting.delete(key)
      if (queue.length > 0) this.#waiting.set(key, queue)
      this.#start(key, job)
    }
  }

  #nextKey(): string | undefined {
    for (const key of this.#waiting.keys()) if ((this.#running.get(key) ?? 0) < this.#o.perKeyConcurrency) return key
    return undefined
  }

  #start(key: string, job: Job): void {
    this.#active++
    this.#running.set(key, (this.#running.get(key) ?? 0) + 1)
    let p: Promise<void>
    try {
      p = job()
    } catch {
      p = Promise.resolve()
    }
    void p
      .catch(() => undefined)
      .finally(() => {
        this.#active--
        const n = (this.#running.get(key) ?? 1) - 1
        if (n === 0) this.#running.delete(key)
        else this.#running.set(key, n)
        this.#pending--
        this.#pump()
        if (this.#pending === 0) for (const resolve of this.#idle.splice(0)) resolve()
      })
  }
}
