/**
 * The Idempotency-Key rules of the federation API, around a route's work:
 *
 * - a mutating request without the header: 400 IDEMPOTENCY_KEY_MISSING;
 * - the same key and the same request (method, path, body): the first
 *   answer again, status and body, and nothing runs;
 * - the same key and another request: 422 IDEMPOTENCY_KEY_REUSED;
 * - the same key while the first request still runs: 409 IDEMPOTENCY_IN_PROGRESS.
 *
 * Keys are scoped per calling peer. Answers with status < 500 are kept (at
 * least 24 h, see the sweeper); a 5xx answer is not, so a retry runs afresh
 * (the key stays the request's: another body is still a mismatch),
 * nor is a 409 IDEMPOTENCY_IN_PROGRESS of the work itself (a hold of that id
 * still being placed): it says "ask again", not how the request ended.
 *
 * Each run claims the key as its own (a token per run): a run that finishes
 * after its claim lapsed and another run with the key stored an answer is
 * refused by the store, and sends that stored answer instead of its own, so
 * every answer of the key is the one answer.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { HTTP_STATUS, VoltwayError, answerIsKept, isErrorCode, type ErrorCode } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import { KeyHeld, KeyedCall, cannotWrite, type IdempotencyClaim, type IdempotencyStore } from '../store/index.js'
import { IdempotencyKey } from './schemas.js'

/** What a route's work answers: a status and a JSON body (null: no body). */
export interface Answer {
  status: number
  body: unknown
}

export interface IdempotencyGuardOptions {
  store: IdempotencyStore
  clock: Clock
  logger: Logger
  /** How long a running claim stays exclusive. Default 120 s (longer than any request runs). */
  leaseMs?: number
}

export const REPLAY_HEADER = 'idempotent-replayed'

export class IdempotencyGuard {
  readonly #o: Required<Omit<IdempotencyGuardOptions, 'leaseMs'>> & { leaseMs: number }
  /** Scope and key of every runKeyed run under way in this process (at most one each). */
  readonly #keyedRuns = new Set<string>()

  constructor(opts: IdempotencyGuardOptions) {
    this.#o = { ...opts, leaseMs: opts.leaseMs ?? 120_000 }
  }

  /** Run `work` under the key rules and send its answer (or the stored one). */
  async run(req: FastifyRequest, reply: FastifyReply, work: () => Promise<Answer>): Promise<FastifyReply> {
    const checked = this.#checkKey(req, reply)
    if ('sent' in checked) return checked.sent
    const { scope, key, fingerprint } = checked
    const { store, clock } = this.#o
    // A keyed run of the key under way here may not have claimed it in the database yet (runKeyed).
    if (this.#keyedRuns.has(keyedRunName(scope, key))) return send(reply, stillRunning(key))
    const owner = randomUUID()
    const claim = await store.claim({ scope, key, fingerprint, nowMs: clock.now(), leaseMs: this.#o.leaseMs, owner })
    if (claim.state !== 'claimed') return this.#sendClaim(reply, claim, key)
    let answer: Answer
    try {
      answer = await work()
    } catch (err) {
      if (!(err instanceof VoltwayError)) {
        // Not a coded answer: free the key so a retry runs afresh, and let the server's
        // error handler answer it (a store that cannot write: 503 STORAGE_UNAVAILABLE; else INTERNAL).
        await store.abandon({ scope, key, owner }).catch((e: unknown) => this.#o.logger.error({ err: e, key }, 'could not free an idempotency key'))
        throw err
      }
      answer = errorAnswer(err.code, err.message, err.details)
    }
    return this.#storeAndSend(reply, { scope, key, fingerprint, owner }, answer)
  }

  /** runKeyed runs under way in this process (each holds its key without a claim in the database until its first write). */
  get keyedRunning(): number {
    return this.#keyedRuns.size
  }

  /**
   * As `run`, for a call whose work claims its key in its own first write and stores its answer
   * with its effect (KeyedCall, hub/store/idempotency.ts): one commit where claim, effect and answer
   * take three. The work must write nothing before a write that carries the call (it may read,
   * and answer or fail from reads alone). Here:
   *
   * - a write found the key held (KeyHeld): the key's answer, as `run` gives it (409 while the
   *   other run runs, the stored answer once done, 422 for another request), the work's discarded;
   * - no write carried the call (the work answered or failed from reads): the key is claimed now,
   *   as `run` does first, and a held key answers as above (the work wrote nothing);
   * - a write stored the answer: it is sent as stored; otherwise the work's answer is stored and
   *   sent as `run` does (a failure that is not a VoltwayError frees the key and is rethrown).
   *
   * A work may wait before its first write (bookings of one peer's vehicle run one at a time), so a
   * request with the key of a run under way in this process is answered 409 IDEMPOTENCY_IN_PROGRESS
   * here, at once, and the first one runs on: "ask again", which then gets the key's answer (the
   * first one's, or 422 for another request), as when the first one has claimed the key.
   */
  async runKeyed(req: FastifyRequest, reply: FastifyReply, work: (call?: KeyedCall) => Promise<Answer>): Promise<FastifyReply> {
    const checked = this.#checkKey(req, reply)
    if ('sent' in checked) return checked.sent
    const { scope, key, fingerprint } = checked
    const running = keyedRunName(scope, key)
    if (this.#keyedRuns.has(running)) return send(reply, stillRunning(key))
    this.#keyedRuns.add(running)
    try {
      return await this.#runKeyed(reply, { scope, key, fingerprint }, work)
    } finally {
      this.#keyedRuns.delete(running)
    }
  }

  async #runKeyed(reply: FastifyReply, k: { scope: string; key: string; fingerprint: string }, work: (call: KeyedCall) => Promise<Answer>): Promise<FastifyReply> {
    const { scope, key, fingerprint } = k
    const { store, clock } = this.#o
    const call = new KeyedCall({ scope, key, fingerprint, nowMs: clock.now(), leaseMs: this.#o.leaseMs, owner: randomUUID() })
    const owner = call.claimInput.owner
    let answer: Answer
    try {
      answer = await work(call)
    } catch (err) {
      if (err instanceof KeyHeld) return this.#sendClaim(reply, err.claim, key)
      if (!(err instanceof VoltwayError)) {
        // A database that could not take the write would make a claim now wait and fail the same way: no claim,
        // as when `run`'s first claim fails.
        if (call.claim === null && cannotWrite(err)) throw err
        // As `run` leaves it: the key claimed for this request (now, if no write did) and freed, so a
        // retry runs afresh and another request with the key is still a mismatch.
        try {
          const claimed = call.claim ?? (await store.claim({ ...call.claimInput, nowMs: clock.now() }))
          if (claimed.state === 'claimed') await store.abandon({ scope, key, owner })
        } catch (e) {
          this.#o.logger.error({ err: e, key }, 'could not free an idempotency key')
        }
        throw err
      }
      answer = errorAnswer(err.code, err.message, err.details)
    }
    if (call.stored) return sendRaw(reply, call.stored.status, call.stored.body)
    if (call.claim === null) {
      // Nothing was written for the call yet: claim its key now, as `run` does before its work.
      const claim = await store.claim({ ...call.claimInput, nowMs: clock.now() })
      if (claim.state !== 'claimed') return this.#sendClaim(reply, claim, key)
    }
    return this.#storeAndSend(reply, { scope, key, fingerprint, owner }, answer)
  }

  /** The request's scope, key and fingerprint, or the answer sent for a request without a usable key. */
  #checkKey(req: FastifyRequest, reply: FastifyReply): { scope: string; key: string; fingerprint: string } | { sent: FastifyReply } {
    const scope = req.peerHubId
    if (scope === undefined) return { sent: send(reply, errorAnswer('UNAUTHORIZED', 'missing or unknown bearer token')) }
    const header = req.headers['idempotency-key']
    if (header === undefined) {
      return { sent: send(reply, errorAnswer('IDEMPOTENCY_KEY_MISSING', 'a mutating federation request needs an Idempotency-Key header; send one per operation (1 to 255 visible ASCII characters), the same on each retry of it')) }
    }
    const key = IdempotencyKey.safeParse(header)
    if (!key.success) return { sent: send(reply, errorAnswer('BAD_REQUEST', 'Idempotency-Key: expected 1 to 255 visible ASCII characters')) }
    return { scope, key: key.data, fingerprint: fingerprintOf(req) }
  }

  /** What a request gets for a key it did not claim: 422 for another request's key, else as sendHeld. */
  #sendClaim(reply: FastifyReply, claim: IdempotencyClaim, key: string): FastifyReply {
    if (claim.state === 'mismatch') return send(reply, errorAnswer('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request; a new request needs a new key, and a retry must repeat the method, path and body', { key }))
    return sendHeld(reply, claim, key) ?? send(reply, errorAnswer('INTERNAL', 'internal error'))
  }

  /** Store the answer of the owner's claim (or free the key for an answer not kept) and send it; a claim taken meanwhile sends what the key holds. */
  async #storeAndSend(reply: FastifyReply, k: { scope: string; key: string; fingerprint: string; owner: string }, answer: Answer): Promise<FastifyReply> {
    const { store, clock } = this.#o
    const { scope, key, owner } = k
    const body = answer.body === null ? null : JSON.stringify(answer.body)
    try {
      if (!answerIsKept(answer.status, codeOf(answer))) await store.abandon({ scope, key, owner })
      else if (!(await store.complete({ scope, key, owner, status: answer.status, body, nowMs: clock.now() }))) {
        return await this.#answerOfTakenKey(reply, { scope, key, fingerprint: k.fingerprint, status: answer.status, body })
      }
    } catch (err) {
      // The work is done; failing to remember the answer must not hide it from the caller.
      this.#o.logger.error({ err, key }, 'could not store an idempotent answer')
    }
    return sendRaw(reply, answer.status, body)
  }

  /**
   * The answer of a run whose claim lapsed and was taken by another run before it stored its own:
   * what the key holds now, as a repeat gets it (the stored answer, or IDEMPOTENCY_IN_PROGRESS
   * while the other run still runs). A key free again is claimed anew and given this answer.
   */
  async #answerOfTakenKey(reply: FastifyReply, a: { scope: string; key: string; fingerprint: string; status: number; body: string | null }): Promise<FastifyReply> {
    const { store, clock, logger } = this.#o
    logger.warn({ key: a.key }, 'a federation request finished after its claim was taken by another run: it answers what that run stored')
    const owner = randomUUID()
    const now = await store.claim({ scope: a.scope, key: a.key, fingerprint: a.fingerprint, nowMs: clock.now(), leaseMs: this.#o.leaseMs, owner })
    const held = sendHeld(reply, now, a.key)
    if (held) return held
    if (now.state === 'claimed') await store.complete({ scope: a.scope, key: a.key, owner, status: a.status, body: a.body, nowMs: clock.now() })
    return sendRaw(reply, a.status, a.body)
  }
}

export function errorAnswer(code: ErrorCode, message: string, details?: Record<string, unknown>): Answer {
  return { status: HTTP_STATUS[code], body: { error: details === undefined ? { code, message } : { code, message, details } } }
}

/**
 * What a request gets for a key another run holds or finished: 409 IDEMPOTENCY_IN_PROGRESS while
 * it runs, its stored answer (marked replayed) once done; null for a claim of its own or a mismatch.
 */
function sendHeld(reply: FastifyReply, claim: IdempotencyClaim, key: string): FastifyReply | null {
  if (claim.state === 'in_progress') return send(reply, stillRunning(key))
  if (claim.state !== 'done') return null
  reply.header(REPLAY_HEADER, 'true')
  return sendRaw(reply, claim.status, claim.body)
}

/** 409 IDEMPOTENCY_IN_PROGRESS: another request with the key still runs. */
function stillRunning(key: string): Answer {
  return errorAnswer('IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still running; ask again with the same key in a moment', { key })
}

/** How the guard names a key among its runKeyed runs under way. */
function keyedRunName(scope: string, key: string): string {
  return `${scope}\u0000${key}`
}

/** The error code of an answer made by `errorAnswer`, if it is one. */
function codeOf(a: Answer): ErrorCode | undefined {
  const code = (a.body as { error?: { code?: unknown } } | null)?.error?.code
  return isErrorCode(code) ? code : undefined
}

function send(reply: FastifyReply, a: Answer): FastifyReply {
  return sendRaw(reply, a.status, a.body === null ? null : JSON.stringify(a.body))
}

function sendRaw(reply: FastifyReply, status: number, body: string | null): FastifyReply {
  reply.status(status)
  if (body === null) return reply.send()
  return reply.header('content-type', 'application/json; charset=utf-8').send(body)
}

/** Method, path (without query) and body in a canonical form (keys sorted), hashed. */
export function fingerprintOf(req: FastifyRequest): string {
  const path = req.url.split('?')[0] ?? ''
  const body = req.body === undefined || req.body === null ? '' : canonicalJson(req.body)
  return createHash('sha256').update(`${req.method} ${path}\n${body}`, 'utf8').digest('base64url')
}

/**
 * JSON with every object's keys in code-unit order and undefined members left
 * out (arrays keep their order; undefined elements are `null`, as in
 * JSON.stringify). Runs for every mutating federation request, so it builds
 * one string instead of entry arrays.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null'
  if (Array.isArray(v)) {
    let out = '['
    for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(v[i])
    return `${out}]`
  }
  const o = v as Record<string, unknown>
  // Default sort order is UTF-16 code-unit order, the order `<` gives.
  const keys = Object.keys(o).sort()
  let out = '{'
  for (const k of keys) {
    const x = o[k]
    if (x === undefined) continue
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonicalJson(x)}`
  }
  return `${out}}`
}
