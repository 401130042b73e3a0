/**
 * The federation's Idempotency-Key guard (hub/federation/idempotency.ts) when
 * a run finishes after its claim lapsed and another request with the key ran
 * and stored its answer: the late run sends that stored answer, not its own,
 * and the key keeps it (docs/protocol.md "Repeated requests").
 */
import t from 'tap'
import Fastify from 'fastify'
import { pino } from 'pino'
import { TestClock } from '../hub/clock.js'
import { IdempotencyGuard } from '../hub/federation/idempotency.js'
import type {} from '../hub/http/server.js'
import { MemoryStore } from '../hub/store/index.js'

const LEASE_MS = 1_000

/** A peer-facing route under the guard whose runs answer `{run: n}` once `release(n)` is called. */
function setup() {
  const clock = new TestClock()
  const store = new MemoryStore()
  const guard = new IdempotencyGuard({ store: store.idempotency, clock, logger: pino({ enabled: false }), leaseMs: LEASE_MS })
  const app = Fastify()
  app.addHook('onRequest', async (req) => {
    req.peerHubId = 'salvador'
  })
  const gates = new Map<number, () => void>()
  const started: Array<() => void> = []
  let runs = 0
  app.post('/federation/v1/holds', (req, reply) =>
    guard.run(req, reply, async () => {
      const n = ++runs
      await new Promise<void>((r) => {
        gates.set(n, r)
        started.shift()?.()
      })
      return { status: 201, body: { run: n } }
    }),
  )
  const post = () => app.inject({ method: 'POST', url: '/federation/v1/holds', headers: { 'idempotency-key': 'k1', 'content-type': 'application/json' }, payload: { at: 'x' } })
  const nextStart = () => new Promise<void>((r) => started.push(r))
  return { clock, app, post, nextStart, release: (n: number) => gates.get(n)?.(), runs: () => runs }
}

/** A first run, held; its claim lapses; a repeat of its key then runs (held too). */
async function lapsedThenRepeated(h: ReturnType<typeof setup>): Promise<{ late: ReturnType<typeof h.post>; repeat: ReturnType<typeof h.post> }> {
  let started = h.nextStart()
  const late = h.post()
  await started
  h.clock.advance(LEASE_MS)
  started = h.nextStart()
  const repeat = h.post()
  await started
  return { late, repeat }
}

t.test('a run whose claim lapsed and that finishes after another run of its key stored an answer sends that answer, not its own', async (t) => {
  const h = setup()
  t.teardown(() => h.app.close())
  const { late, repeat } = await lapsedThenRepeated(h)
  t.equal(h.runs(), 2, 'the claim lapsed: the repeat runs')
  h.release(2)
  const second = await repeat
  t.equal(second.statusCode, 201)
  t.same(second.json(), { run: 2 })
  h.release(1)
  const first = await late
  t.equal(first.statusCode, 201)
  t.same(first.json(), { run: 2 }, 'the late run answers the stored answer')
  t.equal(first.headers['idempotent-replayed'], 'true', 'as a replay')
  const again = await h.post()
  t.same(again.json(), { run: 2 }, 'and the key keeps it')
  t.equal(h.runs(), 2)
})

t.test('a late run whose taker still runs answers IDEMPOTENCY_IN_PROGRESS; the taker\'s answer is the one kept', async (t) => {
  const h = setup()
  t.teardown(() => h.app.close())
  const { late, repeat } = await lapsedThenRepeated(h)
  h.release(1)
  const first = await late
  t.equal(first.statusCode, 409)
  t.equal(first.json().error.code, 'IDEMPOTENCY_IN_PROGRESS', 'ask again: the other run still runs')
  h.release(2)
  t.same((await repeat).json(), { run: 2 })
  t.same((await h.post()).json(), { run: 2 }, 'the key keeps the taker\'s answer')
})
