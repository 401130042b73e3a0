/**
 * The PostgreSQL idempotency store batches per turn (hub/store/postgres/
 * idempotency.ts): the claims, completes and abandons asked during one turn
 * run as one statement each. Every claim of a burst gets the answer it gets
 * when the same claims are asked alone one after another (new keys, a key
 * asked several times in the burst, keys seen before in every state), and
 * leaves the same rows; in a handful of round trips instead of one each. A
 * failing batch statement rejects each caller as the statement alone would.
 */
import t from 'tap'
import { StoreError, type PostgresStore } from '../hub/store/index.js'
import type { ClaimInput } from '../hub/store/idempotency.js'
import { postgresSkipReason, seededTwins, tempPostgres } from './helpers/store-postgres.js'

const skip = await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${skip}`)

const LEASE = 6_000
const T = Date.parse('2026-12-01T08:00:00Z')
const claimOf = (key: string, fingerprint = 'fp', nowMs = T, scope = 'vehicle:V1', owner = 'o1'): ClaimInput => ({ scope, key, fingerprint, nowMs, leaseMs: LEASE, owner })
const V1 = 'vehicle:V1'

/** Keys seen before the burst, in every state a key can be in at T. */
async function seed(store: PostgresStore): Promise<void> {
  const idem = store.idempotency
  await idem.claim(claimOf('live', 'fp', T - 1_000))
  for (let i = 0; i < 8; i++) await idem.claim(claimOf(`lapsed-${i}`, 'fp', T - LEASE - 1))
  await idem.claim(claimOf('done', 'fp', T - 5_000))
  await idem.complete({ scope: V1, key: 'done', owner: 'o1', status: 200, body: '{"reservationId":"r1"}', nowMs: T - 4_000 })
  await idem.claim(claimOf('refused', 'fp', T - 5_000))
  await idem.complete({ scope: V1, key: 'refused', owner: 'o1', status: 409, body: '{"code":"NO_STATION_FREE"}', nowMs: T - 4_000 })
  await idem.claim(claimOf('abandoned', 'fp', T - 5_000))
  await idem.abandon({ scope: V1, key: 'abandoned', owner: 'o1' })
}

/** The burst, in the order asked; each claim a run of its own (its owner q<i>). */
const QUESTIONS: ClaimInput[] = ([
  ...Array.from({ length: 20 }, (_, i) => claimOf(`new-${i}`, 'fp', T, `vehicle:V${i % 3}`)),
  claimOf('shared', 'fp-1', T, 'vehicle:V1'),
  claimOf('shared', 'fp-2', T, 'vehicle:V2'), // another scope: another key
  claimOf('live'), // running, lease live: in progress
  claimOf('live', 'fp-other'), // mismatch
  claimOf('done'), // its answer
  claimOf('done', 'fp-other'),
  claimOf('refused'),
  claimOf('abandoned'), // claimed afresh
  claimOf('twice'), // new, then asked again in the same turn: claimed, then in progress
  claimOf('thrice'),
  claimOf('twice'),
  claimOf('thrice'),
  claimOf('thrice', 'fp-other'),
  claimOf('thrice'),
  claimOf('twice', 'fp', T + LEASE), // after the first claim's lease: claimed again
  ...Array.from({ length: 8 }, (_, i) => [claimOf(`lapsed-${i}`, 'fp'), claimOf(`lapsed-${i}`, 'fp', T + 1), claimOf(`lapsed-${i}`, 'fp-other', T + 2)]).flat(),
] as ClaimInput[]).map((q, i) => ({ ...q, owner: `q${i}` }))

/** Counts the store's single statements (db.query: the batches) and transactions (db.tx: the seen-key path); the INSERT batches' key lists too. */
function countRoundTrips(store: PostgresStore): { queries: number; txs: number; insertKeys: string[][]; stop: () => void } {
  const { query, tx } = store.db
  const seen = {
    queries: 0,
    txs: 0,
    insertKeys: [] as string[][],
    stop: () => {
      store.db.query = query
      store.db.tx = tx
    },
  }
  store.db.query = ((text: string, values?: unknown[], o?: Parameters<typeof query>[2]) => {
    seen.queries++
    if (/^\s*INSERT INTO idempotency_keys/.test(text) && values) {
      const [scopes, keys] = values as [string[], string[]]
      seen.insertKeys.push(keys.map((k, i) => `${scopes[i]}/${k}`))
    }
    return query.call(store.db, text, values, o)
  }) as typeof store.db.query
  store.db.tx = ((work: Parameters<typeof tx>[0]) => (seen.txs++, tx.call(store.db, work))) as typeof store.db.tx
  return seen
}

const rowsOf = async (store: PostgresStore): Promise<unknown[]> =>
  (await store.db.query('SELECT scope, key, fingerprint, state, status, body, created_at_ms, lease_until_ms, owner FROM idempotency_keys ORDER BY scope, key')).rows

t.test('a burst of claims: each answer and row as when asked alone one after another, in a few round trips', { skip: skip ?? false }, async (t) => {
  const { one, burst } = await seededTwins(t, seed)

  const aloneCount = countRoundTrips(one)
  const alone = []
  for (const q of QUESTIONS) alone.push(await one.idempotency.claim(q))
  aloneCount.stop()
  const states = new Set(alone.map((a) => a.state))
  t.same([...states].sort(), ['claimed', 'done', 'in_progress', 'mismatch'], 'the questions meet every answer')
  t.same(alone.slice(28, 34).map((a) => a.state), ['claimed', 'claimed', 'in_progress', 'in_progress', 'mismatch', 'in_progress'], 'asked alone, a repeat of a running key is in progress')

  const burstCount = countRoundTrips(burst)
  const answers = await Promise.all(QUESTIONS.map((q) => burst.idempotency.claim(q)))
  burstCount.stop()
  t.same(answers, alone, `${QUESTIONS.length} answers, each as asked alone one after another`)
  t.same(await rowsOf(burst), await rowsOf(one), 'the same rows')

  t.equal(aloneCount.queries, QUESTIONS.length, 'alone: one INSERT per claim')
  t.equal(burstCount.txs, aloneCount.txs, 'the keys seen before take their transaction, as alone')
  const distinct = new Set(QUESTIONS.map((q) => `${q.scope}/${q.key}`)).size
  t.equal(burstCount.insertKeys[0]?.length, distinct, `the first INSERT carries each of the turn's ${distinct} keys once`)
  // Each repeat of a key asks after its predecessor answered: at most one more INSERT each (repeats asked at once share one).
  t.ok(burstCount.queries <= 1 + QUESTIONS.length - distinct, `the burst: ${burstCount.queries} INSERTs for ${QUESTIONS.length} claims`)
  t.ok(burstCount.insertKeys.every((keys) => new Set(keys).size === keys.length), 'a key asked again waits for its first claim: no INSERT carries it twice')
})

t.test('completes and abandons asked in one turn: one statement each, and all land', { skip: skip ?? false }, async (t) => {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const store = await pg.schema().open({ max: 2 })
  const idem = store.idempotency
  const keys = Array.from({ length: 30 }, (_, i) => `k${i}`)
  for (const k of keys) await idem.claim(claimOf(k))

  let count = countRoundTrips(store)
  const completed = await Promise.all(keys.slice(0, 20).map((key, i) => idem.complete({ scope: V1, key, owner: 'o1', status: i % 2 ? 200 : 409, body: i === 3 ? null : `{"i":${i}}`, nowMs: T + 1 })))
  count.stop()
  t.equal(count.queries, 1, '20 completes, one statement')
  t.same(completed, Array(20).fill(true), 'each stored')
  count = countRoundTrips(store)
  const abandoned = await Promise.all(keys.slice(10).map((key) => idem.abandon({ scope: V1, key, owner: 'o1' })))
  count.stop()
  t.equal(count.queries, 1, '20 abandons, one statement')
  t.same(abandoned, [...Array(10).fill(false), ...Array(10).fill(true)], 'each says whether it forgot its claim (a done key: no)')

  for (const [i, key] of keys.entries()) {
    const expected = i < 20 ? { state: 'done', status: i % 2 ? 200 : 409, body: i === 3 ? null : `{"i":${i}}` } : { state: 'claimed', firstClaimedAtMs: T }
    t.same(await idem.claim(claimOf(key, 'fp', T + 2)), expected, `${key}: ${i < 20 ? 'completed' : 'abandoned'}${i >= 10 && i < 20 ? ' (a done key is not abandoned)' : ''}`)
  }

  // Of one claim completed twice in a turn, the first answer stays, as one after the other (the key is done by the second).
  await idem.claim(claimOf('again'))
  t.same(await Promise.all([1, 2, 3].map((n) => idem.complete({ scope: V1, key: 'again', owner: 'o1', status: 200, body: `{"n":${n}}`, nowMs: T + 1 }))), [true, false, false])
  t.same(await idem.claim(claimOf('again', 'fp', T + 2)), { state: 'done', status: 200, body: '{"n":1}' })
})

t.test('completes and abandons by runs whose claims lapsed and were taken, in one turn with their new owners\': only the owners\' apply, each caller told, one statement each', { skip: skip ?? false }, async (t) => {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const store = await pg.schema().open({ max: 2 })
  const idem = store.idempotency
  const keys = Array.from({ length: 8 }, (_, i) => `k${i}`)
  for (const k of keys) await idem.claim(claimOf(k, 'fp', T, V1, 'old'))
  // Every key's claim lapses; the even ones are taken over by another run ('new').
  for (const [i, k] of keys.entries()) if (i % 2 === 0) t.same(await idem.claim(claimOf(k, 'fp', T + LEASE, V1, 'new')), { state: 'claimed', firstClaimedAtMs: T })

  let count = countRoundTrips(store)
  // Asked in reverse, old and new owners interleaved: the statement's rows still go in (scope, key) order.
  const asked = keys.slice(0, 4).reverse().flatMap((key) => [{ key, owner: 'old' }, { key, owner: 'new' }])
  const completed = await Promise.all(asked.map((a) => idem.complete({ scope: V1, ...a, status: 200, body: `{"by":"${a.owner}"}`, nowMs: T + LEASE + 1 })))
  count.stop()
  t.equal(count.queries, 1, `${asked.length} completes, one statement`)
  t.same(completed, asked.map((a) => a.owner === 'new' ? Number(a.key.slice(1)) % 2 === 0 : Number(a.key.slice(1)) % 2 === 1), "a taken key: only its new owner's answer is stored; a lapsed key nobody took: still its owner's")
  for (const key of keys.slice(0, 4)) {
    const by = Number(key.slice(1)) % 2 === 0 ? 'new' : 'old'
    t.same(await idem.claim(claimOf(key, 'fp', T + LEASE + 2, V1, 'probe')), { state: 'done', status: 200, body: `{"by":"${by}"}` }, `${key}: the answer of ${by}`)
  }

  count = countRoundTrips(store)
  const gone = await Promise.all(keys.slice(4).flatMap((key) => ['old', 'new'].map((owner) => idem.abandon({ scope: V1, key, owner }))))
  count.stop()
  t.equal(count.queries, 1, '8 abandons, one statement')
  t.same(gone, [false, true, true, false, false, true, true, false], "a taken key: only its new owner's abandon applies; a late abandon frees nothing")
  t.same(await idem.claim(claimOf('k4', 'fp', T + LEASE + 3, V1, 'probe')), { state: 'claimed', firstClaimedAtMs: T }, 'k4: abandoned by its new owner (the key stays, first claimed at T)')
  t.same(await idem.claim(claimOf('k5', 'fp', T + LEASE + 3, V1, 'probe')), { state: 'claimed', firstClaimedAtMs: T }, 'k5: abandoned by its owner')
})

t.test('a failing batch statement rejects each of its callers with the StoreError the statement alone gives', { skip: skip ?? false }, async (t) => {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const schema = pg.schema()
  const store = await schema.open({ max: 2 })
  await pg.sql(`DROP TABLE ${schema.name}.idempotency_keys`)

  const codeOf = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'resolved',
      (err: unknown) => (err instanceof StoreError ? err.code : `not a StoreError: ${String(err)}`),
    )
  const idem = store.idempotency
  const alone = [await codeOf(idem.claim(claimOf('a'))), await codeOf(idem.complete({ scope: V1, key: 'a', owner: 'o1', status: 200, body: null, nowMs: T })), await codeOf(idem.abandon({ scope: V1, key: 'a', owner: 'o1' }))]
  t.same(alone, ['DATABASE', 'DATABASE', 'DATABASE'], 'alone: the missing table is a DATABASE error')
  const burst = await Promise.all([
    ...['a', 'b', 'c'].map((k) => codeOf(idem.claim(claimOf(k)))),
    ...['a', 'b'].map((key) => codeOf(idem.complete({ scope: V1, key, owner: 'o1', status: 200, body: null, nowMs: T }))),
    ...['a', 'b'].map((key) => codeOf(idem.abandon({ scope: V1, key, owner: 'o1' }))),
  ])
  t.same(burst, Array(7).fill('DATABASE'), 'in a burst: each caller, the same error')
})

t.test('one key the database refuses fails only its own caller: the batch runs again one key at a time', { skip: skip ?? false }, async (t) => {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const store = await pg.schema().open({ max: 4 })
  const idem = store.idempotency
  // U+0000 is not text to PostgreSQL (SQLSTATE 22021); the request envelope refuses it now, the store must not let it spoil others.
  const BAD = 'bad\u0000key'
  const outcome = (p: Promise<unknown>): Promise<unknown> => p.then((v) => v ?? 'ok', (err: unknown) => (err instanceof StoreError ? err.code : `not a StoreError: ${String(err)}`))

  const claims = await Promise.all(['a', BAD, 'b', 'c'].map((k) => outcome(idem.claim(claimOf(k)))))
  t.same(claims, [{ state: 'claimed', firstClaimedAtMs: T }, 'DATABASE', { state: 'claimed', firstClaimedAtMs: T }, { state: 'claimed', firstClaimedAtMs: T }], 'claims: only the refused key fails')

  const completes = await Promise.all(['a', BAD, 'b'].map((key) => outcome(idem.complete({ scope: V1, key, owner: 'o1', status: 200, body: `{"k":"${key.length}"}`, nowMs: T + 1 }))))
  t.same(completes, [true, 'DATABASE', true], 'completes: only the refused key fails')
  t.same(await idem.claim(claimOf('b', 'fp', T + 2)), { state: 'done', status: 200, body: '{"k":"1"}' }, 'a complete of the failed batch landed when run alone')

  const abandons = await Promise.all([BAD, 'c'].map((key) => outcome(idem.abandon({ scope: V1, key, owner: 'o1' }))))
  t.same(abandons, ['DATABASE', true], 'abandons: only the refused key fails')
  t.same(await idem.claim(claimOf('c', 'fp', T + 2)), { state: 'claimed', firstClaimedAtMs: T }, 'the abandon of the failed batch landed when run alone: claimed again at once')
})
