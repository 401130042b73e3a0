/**
 * PgDatabase.query: once a statement's promise rejects, its transaction is over on the server and
 * the rows it locked are free. node-postgres rejects at the server's error message, which the server
 * sends before it aborts the transaction, so without waiting for the connection's next answer another
 * connection could still meet the locks: a failed BOOK_BATCH's bookings, run alone at once, skipped
 * an expired slot the batch still held and took the next station (store-postgres-book-batch failed
 * so in a CI run under load). Before the fix this test met a held lock about 7 times in 2,000.
 */
import t from 'tap'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'

const skip = await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${skip}`)

t.test('a statement that failed holding a row lock has released it when query() rejects', { skip: skip ?? false }, async (t) => {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const schema = pg.schema()
  const failing = await schema.open({ max: 1 })
  const other = await schema.open({ max: 1 })
  await failing.db.query('CREATE TABLE lock_probe (id int PRIMARY KEY, v int NOT NULL)')
  await failing.db.query('INSERT INTO lock_probe VALUES (1, 0)')
  const ROUNDS = 2000
  let refused = 0
  let held = 0
  for (let i = 0; i < ROUNDS; i++) {
    // Locks the row, then fails (division by zero) in the same statement.
    await failing.db.query('WITH x AS (UPDATE lock_probe SET v = v + 1 WHERE id = $1 RETURNING v) SELECT 1 / (v - v) FROM x', [1]).then(
      () => undefined,
      () => void refused++,
    )
    await other.db.query('SELECT v FROM lock_probe WHERE id = $1 FOR UPDATE NOWAIT', [1]).catch(() => void held++)
  }
  t.equal(refused, ROUNDS, 'every failing statement was refused')
  t.equal(held, 0, `the row was free at once after each of ${ROUNDS} failures`)
  t.equal(Number((await other.db.query<{ v: number }>('SELECT v FROM lock_probe WHERE id = 1')).rows[0]?.v), 0, 'and none of their updates stayed')
})
