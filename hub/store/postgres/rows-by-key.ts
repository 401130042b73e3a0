/**
 * Reads of one row by its key, asked during one turn of the event loop, as
 * one statement (`... WHERE key = ANY($1::text[])`, over base/turn-batch.ts):
 * the 64 trips in flight at a hub read their peer-hold entries and trips by
 * id a few at a time, each read a round trip of its own before.
 *
 * Each caller gets the row as of its batch's statement, which runs after the
 * caller asked: every write it saw committed is in it, as with a read of its
 * own. A batch whose statement fails is read again one key at a time, so a
 * key the database refuses fails only its own caller.
 */
import { TurnBatch } from '../../../base/turn-batch.js'
import type pg from 'pg'
import { oneQuestionMayCause } from './errors.js'
import { asStored } from './batch-keys.js'

export class RowsByKey<R extends pg.QueryResultRow> {
  readonly #batch: TurnBatch<string, R | null>

  /**
   * `sql` selects the rows whose key is in `$1::text[]`; `keyOf` gives a row's
   * key; `query` runs a statement (the store's pool).
   */
  constructor(query: (text: string, values: unknown[]) => Promise<pg.QueryResult<R>>, sql: string, keyOf: (row: R) => string) {
    this.#batch = new TurnBatch<string, R | null>(
      async (asked) => {
        const keys = [...new Set(asked.map((a) => a.question))]
        const rows = new Map<string, R>()
        for (const row of (await query(sql, [keys])).rows) rows.set(keyOf(row), row)
        for (const a of asked) a.resolve(rows.get(asStored(a.question)) ?? null)
      },
      { aloneOnFailure: oneQuestionMayCause },
    )
  }

  /** The row of `key`, or null when there is none. */
  get(key: string): Promise<R | null> {
    return this.#batch.ask(key)
  }
}
