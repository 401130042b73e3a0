/**
 * Questions asked during one turn of the event loop, answered together: a
 * burst of callers (64 vehicles' requests arriving in one read) becomes one
 * batch, so one round trip can answer all of them (the PostgreSQL stores'
 * batched statements, hub/store/postgres/). Each caller still gets its own
 * promise, settled by whoever answers the batch.
 */

/** One caller's question in a batch, and how to settle its promise. */
export interface Asked<Q, A> {
  readonly question: Q
  /** Resolved or rejected already (settling again does nothing). */
  readonly settled: boolean
  resolve(answer: A): void
  reject(err: unknown): void
}

/**
 * Run `work` for `group`; if it throws or rejects, every caller of `group` it has not
 * settled yet rejects with that same error (a settled promise keeps its answer). A caller
 * that `work` left unsettled when it ended rejects too, with UnansweredError: no caller
 * waits forever on an answer that will not come.
 */
export async function answering<Q, A>(group: readonly Asked<Q, A>[], work: () => Promise<void> | void): Promise<void> {
  try {
    await work()
  } catch (err) {
    for (const a of group) a.reject(err)
    return
  }
  for (const a of group) if (!a.settled) a.reject(new UnansweredError())
}

/** A batch's answer ended without settling this caller (a fault of the answer, never of the caller). */
export class UnansweredError extends Error {
  constructor() {
    super('the batch was answered without this question')
    this.name = 'UnansweredError'
  }
}

export interface TurnBatchOptions {
  /**
   * When the answer of a batch of several fails, answer each question of it alone (in parallel),
   * so a question that cannot be answered (a value the database refuses, a row locked by another
   * writer until the lock timeout) fails only its own caller, as it would unbatched; the others
   * are answered after the failed batch, so a lock timeout delays all of them by its wait. A function:
   * only for the errors it says one question may have caused (a database that cannot be reached
   * fails every caller at once, rather than each again after its own wait). Off: every caller of
   * the batch gets the batch's error.
   */
  aloneOnFailure?: boolean | ((err: unknown) => boolean)
}

export class TurnBatch<Q, A> {
  readonly #answer: (batch: Asked<Q, A>[]) => Promise<void> | void
  readonly #aloneOnFailure: (err: unknown) => boolean
  #waiting: Asked<Q, A>[] = []

  /**
   * `answer` gets every question asked since the batch's first `ask`, in the order asked, once
   * the turn is over (setImmediate: after the turn's I/O callbacks and their microtasks), and
   * settles each; what it leaves unsettled when it rejects rejects with its error (`answering`).
   */
  constructor(answer: (batch: Asked<Q, A>[]) => Promise<void> | void, opts: TurnBatchOptions = {}) {
    this.#answer = answer
    const alone = opts.aloneOnFailure ?? false
    this.#aloneOnFailure = typeof alone === 'function' ? alone : () => alone
  }

  /** `question`'s answer, given with the rest of its turn's batch. */
  ask(question: Q): Promise<A> {
    return new Promise<A>((resolve, reject) => {
      const asked = {
        question,
        settled: false,
        resolve(answer: A): void {
          asked.settled = true
          resolve(answer)
        },
        reject(err: unknown): void {
          asked.settled = true
          reject(err)
        },
      }
      this.#waiting.push(asked)
      if (this.#waiting.length === 1) setImmediate(() => this.#flush())
    })
  }

  #flush(): void {
    const batch = this.#waiting
    this.#waiting = []
    void answering(batch, async () => {
      if (batch.length === 1) return this.#answer(batch)
      try {
        await this.#answer(batch)
      } catch (err) {
        // `answering` gives the error to every caller still unsettled.
        if (!this.#aloneOnFailure(err)) throw err
        // The questions the failed answer did not settle, each alone; those it settled keep their answer.
        await Promise.all(batch.filter((a) => !a.settled).map((a) => answering([a], () => this.#answer([a]))))
      }
    })
  }
}
