/**
 * Exactly-once effects for vehicles (docs/protocol.md "Repeated requests"):
 * the request id is an idempotency key of the mutating ops. The same
 * (vehicle, id) within 24 h answers the first answer and acts once, on
 * whichever hub replica receives it, because the key and its answer live in
 * the database (hub/store/idempotency.ts, the federation's key store and
 * claim rule, scope `vehicle:<id>`).
 *
 * - same id, same op and args, first one finished: its answer again;
 * - same id while the first still runs: wait up to `waitMs` for its answer,
 *   then IDEMPOTENCY_IN_PROGRESS (ask again later with the same id);
 * - same id, another op or other args: IDEMPOTENCY_KEY_REUSED.
 * Answers whose code maps to a 5xx status (TIMEOUT, INTERNAL, ...), and
 * IDEMPOTENCY_IN_PROGRESS from the op itself (route.reserve of a trip still
 * being booked or undone), are not kept (`answerIsKept`): a retry runs afresh,
 * while the id stays that request's (another op or other args: still
 * IDEMPOTENCY_KEY_REUSED; the store's abandon keeps the key).
 *
 * An answer the store will not take at once (BUSY, UNAVAILABLE): the claim
 * stays this run's, renewed, while the answer is recorded again until it
 * lands (`record`), so a repeat is IDEMPOTENCY_IN_PROGRESS and then gets it,
 * instead of running the request a second time once the claim lapsed.
 *
 * A run that finishes after its claim lapsed and was taken (its replica
 * stalled a whole lease, its renewals stuck) and another run answered the
 * id meanwhile: the store refuses its answer (claims have owners, one token
 * per run), and it answers the answer stored for the id instead (or waits
 * for it as a repeat does), so every answer of the id is the one answer.
 *
 * A replica that dies mid-request: the replica running a request renews its
 * claim every third of `leaseMs` while it runs, so a claim lapses only
 * `leaseMs` after its replica died (or stalled that long), however long the
 * request itself may take. The default 6 s is shorter than the CLI's wait
 * before its first repeat (10 s): a repeat after a replica death runs on a
 * live one instead of being told IDEMPOTENCY_IN_PROGRESS. The effect ids of
 * reservation.create, route.reserve and charge.start are derived from the
 * request (`effectId`), so a re-run finds the dead run's booking or session
 * instead of making a second one. Each run's handler gets the time its id was first claimed
 * (`RequestContext.firstSeenAtMs`, kept when a lapsed claim is taken over):
 * a re-run of reservation.cancel `{all: true}` cancels only what its first
 * run could have, not what the vehicle booked since.
 *
 * Keyed ops (`keyedOps`: reservation.create and route.reserve on SQLite) claim
 * their id in the booking's own write (a trip's first write) and store the
 * answer with the booking (the trip's last write) (runCall): one commit where
 * claim, booking and answer take three, under the same rules.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { HTTP_STATUS, MUTATING_OPS, VoltwayError, answerIsKept, type ErrorCode, type HandlerTable, type RequestContext, type WireError } from '../../protocol/index.js'
import { sleep, type Clock } from '../../base/clock.js'
import { withTimeout } from '../../base/with-timeout.js'
import { KeyHeld, KeyedCall, StoreError, cannotWrite, type IdempotencyStore, type Store } from '../store/index.js'

/** The ops whose request id is an idempotency key (their list lives with the ops, in protocol/). */
export { MUTATING_OPS }

export interface IdempotentOpsOptions {
  store: IdempotencyStore
  clock: Clock
  logger: Logger
  /** How long a claim stays exclusive after its replica's last renewal (a replica that died mid-request holds it this long), ms. Default DEFAULT_REQUEST_CLAIM_MS. */
  leaseMs?: number
  /** How long a repeated request waits for the first one's answer before IDEMPOTENCY_IN_PROGRESS. Default 3 s. */
  waitMs?: number
  /**
   * Ops whose handler takes a KeyedCall as its third argument and hands it to the store write that
   * books, which claims the request id and stores the answer with the booking (runCall): only on a
   * store with those writes (keyedOpsFor: reservation.create and route.reserve on SQLite). Default none.
   */
  keyedOps?: ReadonlySet<string>
}

/** The default claim lease of a vehicle request, ms: renewed every 2 s while the request runs. */
export const DEFAULT_REQUEST_CLAIM_MS = 6_000

/** A stable id for what request (vehicle, request id) creates: `<prefix>-<43 base64url chars>`, within ID_PATTERN. */
export function effectId(prefix: string, req: Pick<RequestContext, 'vehicleId' | 'requestId'>): string {
  return `${prefix}-${createHash('sha256').update(`${req.vehicleId}\n${req.requestId}`, 'utf8').digest('base64url')}`
}

/**
 * What a request id's claim records of its request (`op` and its parsed `args`): a repeat with other args is
 * IDEMPOTENCY_KEY_REUSED. sha256 of the op and the JSON of the args, base64url; zod output keeps the schema's
 * key order, so the JSON of parsed args is canonical.
 */
export function requestFingerprint(op: string, args: unknown): string {
  return createHash('sha256').update(`${op}\n${JSON.stringify(args)}`, 'utf8').digest('base64url')
}

type Handler = (args: unknown, ctx: RequestContext, call?: KeyedCall) => Promise<unknown>

/**
 * The ops `store` lets run keyed (IdempotentOpsOptions.keyedOps): reservation.create where it has
 * Store.keyedReservations, route.reserve where it has Store.tripWrites (the trip's first write claims
 * the id, its last stores the answer), else none.
 */
export function keyedOpsFor(store: Store): ReadonlySet<string> {
  return new Set([...(store.keyedReservations ? ['reservation.create'] : []), ...(store.tripWrites ? ['route.reserve'] : [])])
}

/** `table` with each mutating op run under the request-id rules above. */
export function idempotentOps(table: HandlerTable, o: IdempotentOpsOptions): HandlerTable {
  const leaseMs = o.leaseMs ?? DEFAULT_REQUEST_CLAIM_MS
  const waitMs = o.waitMs ?? 3_000
  const keyedOps = o.keyedOps ?? new Set<string>()
  /** Keyed runs under way in this process, by scope and id: each holds its id without a claim in the database until its first write. */
  const keyedRuns = new Map<string, { call: KeyedCall; run: Promise<unknown> }>()
  const out: Record<string, unknown> = { ...table }
  for (const op of MUTATING_OPS) {
    const handler = table[op] as Handler | undefined
    if (!handler) continue
    out[op] = async (args: unknown, ctx: RequestContext): Promise<unknown> => {
      const scope = `vehicle:${ctx.vehicleId}`
      const key = ctx.requestId
      const fingerprint = requestFingerprint(op, args)
      const k: KeyClaim = { scope, key, fingerprint, leaseMs, waitMs, owner: randomUUID() }
      const keyed = keyedOps.has(op)
      const name = `${scope}\u0000${key}`
      const under = keyedRuns.get(name)
      // One wait for the whole request: behind a keyed run here, then behind a claim in the database.
      let started = o.clock.monotonic()
      if (under !== undefined) {
        // A keyed run of the id under way here may not have claimed it in the database yet: wait for it, as a
        // repeat waits for a claim, then answer below from the database. Still running and not claimed yet
        // (the database may hold the id for yet another run): ask again. Claimed: the database answers.
        const settled = await withTimeout(under.run.then(() => true, () => true), waitMs, () => stillRunning(key), o.clock).catch(() => false)
        if (!settled && under.call.claim?.state !== 'claimed') throw stillRunning(key)
      } else if (keyed) {
        const call = new KeyedCall({ scope, key, fingerprint, nowMs: o.clock.now(), leaseMs, owner: k.owner })
        const run = runCall(o, { ...k, op }, (c) => handler(args, ctx, c), call)
        keyedRuns.set(name, { call, run })
        try {
          const answer = await run
          if (answer !== KEY_HELD) return answer
        } finally {
          keyedRuns.delete(name)
        }
        // A run that had claimed the id and lost it (lapsed and taken): a fresh wait for the id's answer, as answerOfTakenKey.
        if (call.everClaimed) started = o.clock.monotonic()
        // Another run holds the id: answered below, as a repeat.
      }
      for (;;) {
        const claim: KeyClaim = { ...k, owner: randomUUID() }
        const first = await claimOrWait(o, claim, started)
        if (first.state === 'done') return replay(first.status, first.body)
        const running = renewWhileRunning(o, { ...claim, op })
        // Claimed first: a keyed op's booking write still checks the claim is this run's (a claim that lapsed
        // and was taken books nothing) and stores the answer; another op gets the id's first-claim time.
        const call = KeyedCall.claimed({ scope, key, fingerprint, nowMs: o.clock.now(), leaseMs, owner: claim.owner }, first)
        // route.reserve gets its claimed call on this path too: before it books again (a wait-die restart) it checks
        // the run still owns the id, which a repeat may have answered once the claim lapsed in the pause.
        const work = keyed
          ? (c: KeyedCall) => handler(args, ctx, c)
          : (c: KeyedCall) => handler(args, { ...ctx, firstSeenAtMs: first.firstClaimedAtMs }, ...(op === 'route.reserve' ? [c] : []))
        const answer = await runCall(o, { ...claim, op }, work, call, running)
        if (answer !== KEY_HELD) return answer
        // Its claim lapsed and was taken: a fresh wait for the id's answer, as answerOfTakenKey.
        started = o.clock.monotonic()
      }
    }
  }
  return out as HandlerTable
}

/** What runCall resolves when the request id is another run's (running, answered, or another request's): the caller answers as a repeat. */
const KEY_HELD = Symbol('key held')

/**
 * One run of an op under `call` (owned by `k.owner`), and its answer recorded. A keyed op's run
 * (IdempotentOpsOptions.keyedOps) hands `call` to the store write that books, which claims the
 * request id first and stores the answer with the booking: one commit where claim, booking and
 * answer take three. A call claimed first (KeyedCall.claimed, after claimOrWait) comes with its
 * claim's renewal (`running`); a keyed op's writes then only check the claim is still this
 * run's, and another op's work ignores the call. Then:
 *
 * - a write found the id held (KeyHeld, or a claim not `claimed`, taken from this run included):
 *   KEY_HELD, the work's outcome discarded (it booked nothing);
 * - a write stored the answer: the work's result;
 * - otherwise the answer is recorded under the call's claim (claimed now if no write made it:
 *   the work answered or failed from reads, or its write rolled back), or the id freed for an
 *   answer not kept, as the claim-first rules have it.
 *
 * Handlers of keyed ops get no `firstSeenAtMs` (they act as of now).
 */
async function runCall(
  o: IdempotentOpsOptions,
  k: KeyClaim & { op: string },
  work: (call: KeyedCall) => Promise<unknown>,
  call: KeyedCall,
  running?: RenewedClaim,
): Promise<unknown> {
  const held = (): boolean => call.claim !== null && call.claim.state !== 'claimed'
  if (running === undefined) call.onClaimed = () => (running = renewWhileRunning(o, k))
  let result: unknown
  try {
    result = await work(call)
  } catch (err) {
    if (err instanceof KeyHeld || held()) {
      running?.stop()
      return KEY_HELD
    }
    if (err instanceof VoltwayError && answerIsKept(HTTP_STATUS[err.code], err.code)) {
      return settleAnswer(o, call, { ...k, status: HTTP_STATUS[err.code], body: JSON.stringify(err.toWire()) }, () => {
        throw err
      }, running)
    }
    running?.stop()
    // A database that could not take the write (locked, unavailable, closed) would make a claim now wait and fail
    // the same way (a lock: the busy timeout again, the event loop blocked): as when a first claim fails, no claim.
    if (call.claim === null && cannotWrite(err)) throw err
    // As the claimed path leaves it: the id claimed for this request (now, if no write did) and freed, so a
    // repeat runs afresh and another request with the id is still IDEMPOTENCY_KEY_REUSED.
    try {
      const claim = call.claim ?? (await o.store.claim({ ...call.claimInput, nowMs: o.clock.now() }))
      if (claim.state !== 'claimed') return KEY_HELD
      await o.store.abandon(k)
    } catch (e) {
      o.logger.error({ err: e, op: k.op, id: k.key }, 'could not record a request id')
    }
    throw err
  }
  if (held()) {
    running?.stop()
    return KEY_HELD
  }
  if (call.stored) {
    running?.stop()
    return result
  }
  return settleAnswer(o, call, { ...k, status: 200, body: JSON.stringify(result) }, () => result, running)
}

/**
 * A run's answer `a` (`own` returns or throws it) when no write stored it: recorded under the
 * run's claim (renewed by `running`, or from now on), or under one made now (KEY_HELD: the id is
 * another run's); then `own`, or, when the claim was taken meanwhile, what the id holds (answerOfTakenKey).
 */
async function settleAnswer(
  o: IdempotentOpsOptions,
  call: KeyedCall,
  a: KeyClaim & { op: string; status: number; body: string },
  own: () => unknown,
  running?: RenewedClaim,
): Promise<unknown> {
  if (call.claim === null) {
    const claim = await o.store.claim({ ...call.claimInput, nowMs: o.clock.now() })
    if (claim.state !== 'claimed') return KEY_HELD
  }
  if ((await record(o, running ?? renewWhileRunning(o, a), a)) === 'taken') return answerOfTakenKey(o, a, own)
  return own()
}

/** IDEMPOTENCY_KEY_REUSED for request id `key`, used for another request. */
function keyReused(key: string): VoltwayError {
  return new VoltwayError('IDEMPOTENCY_KEY_REUSED', `request id "${key}" was used for another request; use a new id for a new request`, { id: key })
}

/** IDEMPOTENCY_IN_PROGRESS for request id `key`: ask again with the same id for its answer. */
function stillRunning(key: string): VoltwayError {
  return new VoltwayError('IDEMPOTENCY_IN_PROGRESS', `a request with id "${key}" is still running; ask again with the same id to get its answer`, { id: key })
}

/** A request id as one run claims it: the run's own `owner` token, and the repeat rules' lease and wait. */
interface KeyClaim {
  scope: string
  key: string
  fingerprint: string
  owner: string
  leaseMs: number
  waitMs: number
}

/**
 * Claim the key as `c.owner`: `claimed`, or the key's stored answer (`done`); a claim another run
 * holds is waited for up to `waitMs` after `started` (monotonic ms: the request's wait may have
 * begun before), then IDEMPOTENCY_IN_PROGRESS; another request's key, IDEMPOTENCY_KEY_REUSED.
 */
async function claimOrWait(
  o: IdempotentOpsOptions,
  c: KeyClaim,
  started = o.clock.monotonic(),
): Promise<{ state: 'claimed'; firstClaimedAtMs: number } | { state: 'done'; status: number; body: string | null }> {
  for (;;) {
    const claim = await o.store.claim({ scope: c.scope, key: c.key, fingerprint: c.fingerprint, nowMs: o.clock.now(), leaseMs: c.leaseMs, owner: c.owner })
    if (claim.state === 'done' || claim.state === 'claimed') return claim
    if (claim.state === 'mismatch') throw keyReused(c.key)
    if (o.clock.monotonic() - started >= c.waitMs) throw stillRunning(c.key)
    await sleep(o.clock, 50)
  }
}

/**
 * The answer of a run whose claim was taken by another run before it could record its own
 * (`a`: its answer as recorded; `own`: returns or throws it): what the key holds now,
 * as a repeat of the id would get it. A key free again (the other run abandoned it, or lapsed
 * too) is claimed anew and given this run's answer, which is then the id's answer.
 */
async function answerOfTakenKey(o: IdempotentOpsOptions, a: KeyClaim & { op: string; status: number; body: string }, own: () => unknown): Promise<unknown> {
  o.logger.warn({ op: a.op, id: a.key }, 'a request finished after its claim was taken by another run: it answers what that run stored')
  const owner = randomUUID()
  const now = await claimOrWait(o, { ...a, owner })
  if (now.state === 'done') return replay(now.status, now.body)
  await o.store
    .complete({ scope: a.scope, key: a.key, owner, status: a.status, body: a.body, nowMs: o.clock.now() })
    .catch((err: unknown) => o.logger.error({ err, op: a.op, id: a.key }, 'could not record the answer of a request; a repeat of its id may run it again'))
  return own()
}

/** A running request's claim, renewed until `stop`; `lost` once a renewal found it no longer running (lapsed and taken, or gone). */
interface RenewedClaim {
  stop(): void
  readonly lost: boolean
}

/** Renew the claim every third of its lease until stopped. */
function renewWhileRunning(o: IdempotentOpsOptions, c: { scope: string; key: string; owner: string; leaseMs: number; op: string }): RenewedClaim {
  let stopped = false
  let lost = false
  let cancel = (): void => undefined
  const beat = (): void => {
    cancel = o.clock.setTimer(() => {
      o.store
        .renew({ scope: c.scope, key: c.key, owner: c.owner, nowMs: o.clock.now(), leaseMs: c.leaseMs })
        .then((held) => {
          // After a stop, the request's answer may be stored already: not held is then no news.
          if (!held && !stopped) {
            lost = true
            o.logger.warn({ op: c.op, id: c.key }, 'a running request lost its claim (it lapsed and was taken, or is gone: a repeat may run it too)')
          }
        })
        .catch((err: unknown) => {
          if (err instanceof StoreError && err.code === 'CLOSED') stopped = true
          else o.logger.warn({ err, op: c.op, id: c.key }, 'could not renew the claim of a running request')
        })
        .finally(() => {
          if (!stopped) beat()
        })
    }, Math.max(10, Math.floor(c.leaseMs / 3)))
  }
  beat()
  return {
    stop() {
      stopped = true
      cancel()
    },
    get lost() {
      return lost
    },
  }
}

/** First and longest pause between two tries of recording an answer, ms. */
const RECORD_RETRY_MS = { first: 100, max: 2_000 }

/**
 * Record a request's answer (it took effect, and is answered now). If the store will not take it
 * now (BUSY: its row or every pooled connection held by other sessions; UNAVAILABLE), the claim
 * stays this run's, renewed, while the answer is recorded again in the background until it lands:
 * a repeat meanwhile is IDEMPOTENCY_IN_PROGRESS, then gets this answer. Letting the claim lapse
 * instead would run the request a second time (a cancel answered {cancelled: 1} would answer
 * NOT_FOUND, a cancel-all would cancel what was booked since). Given up only when the claim is
 * lost (lapsed during an outage and taken by a repeat) or the store is closed.
 *
 * Resolves `stored`; `taken` when the store refused the answer at once because the claim is not
 * this run's any more (another run took it over: the caller answers what that run stored); or
 * `later` when it is recorded in the background (or given up).
 */
async function record(o: IdempotentOpsOptions, claim: RenewedClaim, a: { scope: string; key: string; owner: string; op: string; status: number; body: string }): Promise<'stored' | 'taken' | 'later'> {
  const attempt = (): Promise<'stored' | 'taken' | 'failed'> =>
    o.store.complete({ scope: a.scope, key: a.key, owner: a.owner, status: a.status, body: a.body, nowMs: o.clock.now() }).then(
      (stored) => (stored ? 'stored' : 'taken'),
      (err: unknown) => {
        if (err instanceof StoreError && err.code === 'CLOSED') throw err
        return 'failed'
      },
    )
  const giveUp = (err: unknown): void => {
    claim.stop()
    o.logger.error({ err, op: a.op, id: a.key }, 'could not record the answer of a request; a repeat of its id may run it again')
  }
  try {
    const first = await attempt()
    if (first !== 'failed') {
      claim.stop()
      return first
    }
  } catch (err) {
    giveUp(err)
    return 'later'
  }
  o.logger.warn({ op: a.op, id: a.key }, 'could not record the answer of a request yet; its claim is kept while it is recorded again')
  const retry = (waitMs: number): void => {
    o.clock.setTimer(() => {
      if (claim.lost) return giveUp(new Error('the claim was lost meanwhile'))
      attempt().then((out) => {
        if (out === 'failed') return retry(Math.min(waitMs * 2, RECORD_RETRY_MS.max))
        claim.stop()
        if (out === 'taken') o.logger.warn({ op: a.op, id: a.key }, 'the answer of a request was not recorded: its claim was taken by another run, whose answer the id keeps')
      }, giveUp)
    }, waitMs)
  }
  retry(RECORD_RETRY_MS.first)
  return 'later'
}

/** The stored answer: a result (200) or the coded error it was. */
function replay(status: number, body: string | null): unknown {
  if (status === 200) return body === null ? null : JSON.parse(body)
  const e = (body === null ? null : JSON.parse(body)) as WireError | null
  if (!e) throw new VoltwayError('INTERNAL', 'internal error')
  throw new VoltwayError(e.code as ErrorCode, e.message, e.details)
}
