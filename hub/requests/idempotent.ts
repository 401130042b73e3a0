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
 * being booked or undone), are not kept (`answerIsKept`): a retry runs afresh.
 *
 * An answer the store will not take at once (BUSY, UNAVAILABLE): the claim
 * stays this run's, renewed, while the answer is recorded again until it
 * lands (`record`), so a repeat is IDEMPOTENCY_IN_PROGRESS and then gets it,
 * instead of running the request a second time once the claim lapsed.
 *
 * A replica that dies mid-request: the replica running a request renews its
 * claim every third of `leaseMs` while it runs, so a claim lapses only
 * `leaseMs` after its replica died (or stalled that long), however long the
 * request itself may take. The default 6 s is shorter than the CLI's wait
 * before its first repeat (10 s): a repeat after a replica death runs on a
 * live one instead of being told IDEMPOTENCY_IN_PROGRESS. The effect ids of
 * reservation.create and route.reserve are derived from the request
 * (`effectId`), so a re-run finds the dead run's booking instead of making a
 * second one.
 */
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import { HTTP_STATUS, MUTATING_OPS, VoltwayError, answerIsKept, type ErrorCode, type HandlerTable, type RequestContext, type WireError } from '../../protocol/index.js'
import { sleep, type Clock } from '../../base/clock.js'
import { StoreError, type IdempotencyStore } from '../store/index.js'

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
}

/** The default claim lease of a vehicle request, ms: renewed every 2 s while the request runs. */
export const DEFAULT_REQUEST_CLAIM_MS = 6_000

/** A stable id for what request (vehicle, request id) creates: `<prefix>-<43 base64url chars>`, within ID_PATTERN. */
export function effectId(prefix: string, req: Pick<RequestContext, 'vehicleId' | 'requestId'>): string {
  return `${prefix}-${createHash('sha256').update(`${req.vehicleId}\n${req.requestId}`, 'utf8').digest('base64url')}`
}

type Handler = (args: unknown, ctx: RequestContext) => Promise<unknown>

/** `table` with each mutating op run under the request-id rules above. */
export function idempotentOps(table: HandlerTable, o: IdempotentOpsOptions): HandlerTable {
  const leaseMs = o.leaseMs ?? DEFAULT_REQUEST_CLAIM_MS
  const waitMs = o.waitMs ?? 3_000
  const out: Record<string, unknown> = { ...table }
  for (const op of MUTATING_OPS) {
    const handler = table[op] as Handler | undefined
    if (!handler) continue
    out[op] = async (args: unknown, ctx: RequestContext): Promise<unknown> => {
      const scope = `vehicle:${ctx.vehicleId}`
      const key = ctx.requestId
      // Zod output keeps the schema's key order, so the JSON of parsed args is canonical.
      const fingerprint = createHash('sha256').update(`${op}\n${JSON.stringify(args)}`, 'utf8').digest('base64url')
      const started = o.clock.monotonic()
      for (;;) {
        const claim = await o.store.claim({ scope, key, fingerprint, nowMs: o.clock.now(), leaseMs })
        if (claim.state === 'done') return replay(claim.status, claim.body)
        if (claim.state === 'mismatch') {
          throw new VoltwayError('IDEMPOTENCY_KEY_REUSED', `request id "${key}" was used for another request; use a new id for a new request`, { id: key })
        }
        if (claim.state === 'claimed') break
        if (o.clock.monotonic() - started >= waitMs) {
          throw new VoltwayError('IDEMPOTENCY_IN_PROGRESS', `a request with id "${key}" is still running; ask again with the same id to get its answer`, { id: key })
        }
        await sleep(o.clock, 50)
      }
      const running = renewWhileRunning(o, { scope, key, leaseMs, op })
      let result: unknown
      try {
        result = await handler(args, ctx)
      } catch (err) {
        if (err instanceof VoltwayError && answerIsKept(HTTP_STATUS[err.code], err.code)) {
          await record(o, running, { scope, key, op, status: HTTP_STATUS[err.code], body: JSON.stringify(err.toWire()) })
        } else {
          running.stop()
          await o.store.abandon(scope, key).catch((e: unknown) => o.logger.error({ err: e, op, id: key }, 'could not record a request id'))
        }
        throw err
      }
      await record(o, running, { scope, key, op, status: 200, body: JSON.stringify(result) })
      return result
    }
  }
  return out as HandlerTable
}

/** A running request's claim, renewed until `stop`; `lost` once a renewal found it no longer running (lapsed and taken, or gone). */
interface RenewedClaim {
  stop(): void
  readonly lost: boolean
}

/** Renew the claim every third of its lease until stopped. */
function renewWhileRunning(o: IdempotentOpsOptions, c: { scope: string; key: string; leaseMs: number; op: string }): RenewedClaim {
  let stopped = false
  let lost = false
  let cancel = (): void => undefined
  const beat = (): void => {
    cancel = o.clock.setTimer(() => {
      o.store
        .renew({ scope: c.scope, key: c.key, nowMs: o.clock.now(), leaseMs: c.leaseMs })
        .then((held) => {
          // After a stop, the request's answer may be stored already: not held is then no news.
          if (!held && !stopped) {
            lost = true
            o.logger.warn({ op: c.op, id: c.key }, 'a running request lost its claim (it lapsed; a repeat may run it too)')
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
 */
async function record(o: IdempotentOpsOptions, claim: RenewedClaim, a: { scope: string; key: string; op: string; status: number; body: string }): Promise<void> {
  const attempt = (): Promise<boolean> =>
    o.store.complete({ scope: a.scope, key: a.key, status: a.status, body: a.body, nowMs: o.clock.now() }).then(
      () => true,
      (err: unknown) => {
        if (err instanceof StoreError && err.code === 'CLOSED') throw err
        return false
      },
    )
  const done = (): void => claim.stop()
  const giveUp = (err: unknown): void => {
    claim.stop()
    o.logger.error({ err, op: a.op, id: a.key }, 'could not record the answer of a request; a repeat of its id may run it again')
  }
  try {
    if (await attempt()) return done()
  } catch (err) {
    return giveUp(err)
  }
  o.logger.warn({ op: a.op, id: a.key }, 'could not record the answer of a request yet; its claim is kept while it is recorded again')
  const retry = (waitMs: number): void => {
    o.clock.setTimer(() => {
      if (claim.lost) return giveUp(new Error('the claim was lost meanwhile'))
      attempt().then(
        (ok) => (ok ? done() : retry(Math.min(waitMs * 2, RECORD_RETRY_MS.max))),
        giveUp,
      )
    }, waitMs)
  }
  retry(RECORD_RETRY_MS.first)
}

/** The stored answer: a result (200) or the coded error it was. */
function replay(status: number, body: string | null): unknown {
  if (status === 200) return body === null ? null : JSON.parse(body)
  const e = (body === null ? null : JSON.parse(body)) as WireError | null
  if (!e) throw new VoltwayError('INTERNAL', 'internal error')
  throw new VoltwayError(e.code as ErrorCode, e.message, e.details)
}
