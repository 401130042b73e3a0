/**
 * base/turn-batch.ts: questions asked in one turn of the event loop are
 * answered by one call; a question asked while a batch is answered goes to
 * the next; a failing answer rejects the callers it left unsettled (or, with
 * aloneOnFailure, is run again for each alone); no caller waits forever on an
 * answer that left it out.
 */
import t from 'tap'
import { TurnBatch, UnansweredError, type Asked } from '../base/turn-batch.js'

const outcome = (p: Promise<unknown>): Promise<unknown> => p.then((v) => ({ ok: v }), (err: unknown) => ({ err: err instanceof Error ? err.message : String(err) }))

t.test('one answer per turn, in the order asked; a question asked while answering goes to the next batch', async (t) => {
  const batches: number[][] = []
  let inner: Promise<number> | null = null
  const b: TurnBatch<number, number> = new TurnBatch((batch: Asked<number, number>[]) => {
    batches.push(batch.map((a) => a.question))
    if (inner === null) inner = b.ask(100)
    for (const a of batch) a.resolve(a.question * 2)
  })
  const first = await Promise.all([1, 2, 3].map((n) => b.ask(n)))
  t.same(first, [2, 4, 6])
  t.equal(await inner, 200, 'the question asked from inside an answer is answered')
  const later = await Promise.all([4, 5].map((n) => b.ask(n)))
  t.same(later, [8, 10])
  t.same(batches, [[1, 2, 3], [100], [4, 5]], 'three batches: one per turn, the re-entrant question alone')
})

t.test('a failing answer rejects the callers it did not settle; those it settled keep their answer', async (t) => {
  const b = new TurnBatch<number, number>(async (batch) => {
    ;(batch[0] as Asked<number, number>).resolve(1)
    await Promise.resolve()
    throw new Error('the database went away')
  })
  const out = await Promise.all([1, 2, 3].map((n) => outcome(b.ask(n))))
  t.same(out, [{ ok: 1 }, { err: 'the database went away' }, { err: 'the database went away' }])
})

t.test('aloneOnFailure: a failed batch is answered again one question at a time, so one bad question fails alone', async (t) => {
  const calls: number[][] = []
  const b = new TurnBatch<number, number>(
    (batch) => {
      calls.push(batch.map((a) => a.question))
      if (batch.some((a) => a.question < 0)) throw new Error(`refused ${batch.find((a) => a.question < 0)?.question}`)
      for (const a of batch) a.resolve(a.question + 1)
    },
    { aloneOnFailure: true },
  )
  const out = await Promise.all([1, -2, 3].map((n) => outcome(b.ask(n))))
  t.same(out, [{ ok: 2 }, { err: 'refused -2' }, { ok: 4 }])
  t.same(calls, [[1, -2, 3], [1], [-2], [3]], 'the batch, then each question alone')
})

t.test('an answer that ends without settling a caller rejects it with UnansweredError instead of leaving it waiting', async (t) => {
  const b = new TurnBatch<number, number>((batch) => {
    for (const a of batch) if (a.question % 2 === 0) a.resolve(a.question)
  })
  const settled = await Promise.allSettled([1, 2, 3].map((n) => b.ask(n)))
  t.same(settled.map((s) => s.status), ['rejected', 'fulfilled', 'rejected'])
  t.ok(settled[0]?.status === 'rejected' && settled[0].reason instanceof UnansweredError, 'UnansweredError')
})

t.test('aloneOnFailure answers again only the questions the failed answer left unsettled, and no caller waits on an answer that leaves it out', async (t) => {
  const calls: number[][] = []
  const b = new TurnBatch<number, number>(
    (batch) => {
      calls.push(batch.map((a) => a.question))
      if (batch.length > 1) {
        ;(batch[0] as Asked<number, number>).resolve(10)
        throw new Error('failed after the first')
      }
      // Alone, 3 is left out.
      if (batch[0]?.question !== 3) batch[0]?.resolve((batch[0]?.question ?? 0) + 1)
    },
    { aloneOnFailure: true },
  )
  const out = await Promise.allSettled([1, 2, 3].map((n) => b.ask(n)))
  t.same(calls, [[1, 2, 3], [2], [3]], 'the settled first question is not answered again')
  t.same(out.slice(0, 2).map((o) => (o.status === 'fulfilled' ? o.value : o.status)), [10, 3])
  t.ok(out[2]?.status === 'rejected' && out[2].reason instanceof UnansweredError, 'the question its alone answer left out rejects with UnansweredError')
})

t.test('aloneOnFailure as a predicate: only an error it says one question may cause is answered again alone; any other fails every caller at once', async (t) => {
  const answered: number[][] = []
  const b = new TurnBatch<number, number>(
    (batch) => {
      answered.push(batch.map((a) => a.question))
      if (batch.some((a) => a.question < 0)) throw new Error(batch.length > 1 && batch.some((a) => a.question === -99) ? 'database unreachable' : 'refused value')
      for (const a of batch) a.resolve(a.question)
    },
    { aloneOnFailure: (err) => err instanceof Error && err.message === 'refused value' },
  )
  t.same(await Promise.all([1, -1, 2].map((n) => outcome(b.ask(n)))), [{ ok: 1 }, { err: 'refused value' }, { ok: 2 }], 'one bad question fails alone')
  t.same(answered, [[1, -1, 2], [1], [-1], [2]])
  answered.length = 0
  t.same(await Promise.all([3, -99, 4].map((n) => outcome(b.ask(n)))), [{ err: 'database unreachable' }, { err: 'database unreachable' }, { err: 'database unreachable' }])
  t.same(answered, [[3, -99, 4]], 'nothing asked again alone')
})
