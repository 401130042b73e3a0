/**
 * Counts asked during one turn of the event loop, as one statement (over
 * base/turn-batch.ts): every booking first counts its vehicle's live bookings
 * (hub/reservations/vehicle-limit.ts), so 64 vehicles' creates arriving
 * together were 64 (or 128) COUNT round trips before their bookings.
 *
 * `sql` takes one array parameter per column of the questions (`$1`, `$2`,
 * ...), unnests them `WITH ORDINALITY AS q(..., i)` and returns one row
 * `(i, n)` per question: `i` its 1-based position, `n` its count. Each caller
 * gets its count as of its batch's statement, which runs after it asked. A
 * batch whose statement fails for a reason one question may cause is asked
 * again one question at a time.
 */
import { TurnBatch } from '../../../base/turn-batch.js'
import type pg from 'pg'
import { oneQuestionMayCause } from './errors.js'

export class CountsPerTurn<Q> {
  readonly #batch: TurnBatch<Q, number>

  /** `columns` gives a question's values, in the order of the statement's array parameters. */
  constructor(query: (text: string, values: unknown[]) => Promise<pg.QueryResult<{ i: number; n: number }>>, sql: string, columns: (q: Q) => readonly unknown[]) {
    this.#batch = new TurnBatch<Q, number>(
      async (asked) => {
        const rows = asked.map((a) => columns(a.question))
        const params = (rows[0] ?? []).map((_, j) => rows.map((r) => r[j]))
        const counts = new Map<number, number>()
        for (const row of (await query(sql, params)).rows) counts.set(Number(row.i), Number(row.n))
        asked.forEach((a, k) => {
          const n = counts.get(k + 1)
          if (n !== undefined) a.resolve(n)
        })
      },
      { aloneOnFailure: oneQuestionMayCause },
    )
  }

  count(q: Q): Promise<number> {
    return this.#batch.ask(q)
  }
}
