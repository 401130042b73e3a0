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
  resolve(answer: A): void
  reject(err: unknown): void
}

/**
 * Run `work` for `group`; if it throws or rejects, every caller of `group` it has not
 * settled yet rejects with that same error (a settled promise keeps its answer).
 */
export async function answering<Q, A>(group: readonly Asked<Q, A>[], work: () => Promise<void> | void): Promise<void> {
  try {
    await work()
  } catch (err) {
    for (const a of group) a.reject(err)
  }
}

export class TurnBatch<Q, A> {
  readonly #answer: (batch: Asked<Q, A>[]) => Promise<void> | void
  #waiting: Asked<Q, A>[] = []

  /**
   * `answer` gets every question asked since the batch's first `ask`, in the order asked, once
   * the turn is over (setImmediate: after the turn's I/O callbacks and their microtasks), and
   * settles each; what it leaves unsettled when it rejects rejects with its error (`answering`).
   */
  constructor(answer: (batch: Asked<Q, A>[]) => Promise<void> | void) {
    this.#answer = answer
  }

  /** `question`'s answer, given with the rest of its turn's batch. */
  ask(question: Q): Promise<A> {
    return new Promise<A>((resolve, reject) => {
      this.#waiting.push({ question, resolve, reject })
      if (this.#waiting.length === 1) setImmediate(() => this.#flush())
    })
  }

  #flush(): void {
    const batch = this.#waiting
    this.#waiting = []
    void answering(batch, () => this.#answer(batch))
  }
}
