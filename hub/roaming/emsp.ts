/**
 * Roaming, the home side (the eMSP, as in OCPI's Commands module): this
 * hub's vehicle asks only its own hub; `charge.start` with another hub's
 * `hubId` is sent to that peer over the federation (docs/protocol.md
 * "Roaming"), and `charge.status` / `charge.stop` of that session follow it
 * there, found by the session's roaming record in this hub's store. The
 * peer bills at its own price and the receipt is kept here too, so
 * `history.list` shows it even while the peer is away (and once: the peer's
 * copy has the same hub and session id).
 *
 * A stop the peer does not answer is queued durably (StopQueue) and retried
 * with the same Idempotency-Key; the vehicle gets PEER_UNAVAILABLE with
 * `details.queued: true`, and the receipt appears in `history.list` when
 * the peer answers. Meanwhile the station fails safe on its own (its limits
 * and its hub's rules), as for any session.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { FedReceipt, FedSession, FedSessionStarted, VoltwayError, isErrorCode, parseTime, type OpArgs, type OpResult, type Receipt } from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import type { ChargingService, StartOptions } from '../charging/service.js'
import type { FederationClient } from '../federation/client.js'
import { StoreError, type RoamingSessionRecord, type Store } from '../store/index.js'
import { retryable } from '../trips/releaser.js'
import type { StopQueue } from './stop-queue.js'

export interface RoamingHomeDeps {
  hubId: string
  store: Store
  clock: Clock
  logger: Logger
  client: Pick<FederationClient, 'has' | 'peerIds' | 'request'>
  /** Sessions at this hub's own stations. */
  local: Pick<ChargingService, 'start' | 'status' | 'stop' | 'receipts'>
  /** How long a start at a peer may take (the peer waits for its station). Default 15 s. */
  startTimeoutMs?: number
}

const P = '/federation/v1/sessions'

export class RoamingHome {
  readonly #d: RoamingHomeDeps
  readonly #log: Logger
  #queue: StopQueue | null = null

  constructor(deps: RoamingHomeDeps) {
    this.#d = deps
    this.#log = deps.logger.child({ component: 'roaming' })
  }

  /** The queue unanswered stops go to (set once, before requests are served). */
  useStopQueue(q: StopQueue): void {
    this.#queue = q
  }

  /**
   * `charge.start`: at this hub's station, or with another `hubId` at that peer's. `opts.sessionId` (from the
   * vehicle's request) names the session here (ChargingService.startFor); at a peer, which names its own
   * sessions, it makes the Idempotency-Key of the forwarded start, so every run of one request starts once
   * there and is answered that session (the peer's stored answer).
   */
  async start(vehicleId: string, args: OpArgs<'charge.start'>, opts: StartOptions = {}): Promise<OpResult<'charge.start'>> {
    const { hubId, ...rest } = args
    if (hubId === undefined || hubId === this.#d.hubId) return this.#d.local.start(vehicleId, rest, opts)
    if (!this.#d.client.has(hubId)) throw new VoltwayError('NOT_FOUND', `no hub ${hubId} among the peers of hub ${this.#d.hubId}`, { hubId, peers: this.#d.client.peerIds })
    const started = await this.#d.client.request(hubId, {
      method: 'POST',
      path: P,
      body: { vehicleId, ...rest },
      // One key per vehicle request (a fresh one without): this call's retries and every re-run of the request repeat it, the peer starts once.
      idempotencyKey: `roam-start-${opts.sessionId ?? randomUUID()}`,
      schema: FedSessionStarted,
      timeoutMs: this.#d.startTimeoutMs ?? 15_000,
    })
    const { session } = started
    if (session.hubId !== hubId || session.stationId !== args.stationId) {
      throw new VoltwayError('PEER_UNAVAILABLE', `hub ${hubId} answered a start for another station or hub`, { hubId })
    }
    try {
      await this.#d.store.charging.addRoamingSession({ sessionId: session.sessionId, hubId, vehicleId, stationId: session.stationId, startedAtMs: parseTime(session.startedAt), meterStartWh: session.meterStartWh })
    } catch (err) {
      // A re-run of the request: the peer answered the session its first run started, which recorded it here.
      if (err instanceof StoreError && err.code === 'DUPLICATE_ID') return this.#recordedBefore(vehicleId, hubId, session)
      // Without the record the vehicle could never stop it through us: stop it now (queued if need be).
      this.#log.error({ err, sessionId: session.sessionId, hubId }, 'could not record a roaming session; stopping it')
      void this.#callStop(hubId, session.sessionId).catch(() => undefined)
      throw err
    }
    this.#log.info({ sessionId: session.sessionId, hubId, stationId: session.stationId, vehicleId }, 'roaming session started')
    return { session: { sessionId: session.sessionId, stationId: session.stationId, startedAt: session.startedAt, meterStartWh: session.meterStartWh } }
  }

  /**
   * The answer of a start whose session the peer answered (`session`) and this hub recorded before: the
   * session as the first run answered it, if the record is the vehicle's at that peer; else PEER_UNAVAILABLE (the
   * peer named a session this hub knows as another's), changing nothing.
   */
  async #recordedBefore(vehicleId: string, hubId: string, session: OpResult<'charge.start'>['session']): Promise<OpResult<'charge.start'>> {
    const rec = await this.#d.store.charging.getRoamingSession(session.sessionId)
    if (!rec || rec.vehicleId !== vehicleId || rec.hubId !== hubId || rec.stationId !== session.stationId) {
      throw new VoltwayError('PEER_UNAVAILABLE', `hub ${hubId} answered a start with a session this hub knows as another one`, { hubId })
    }
    return { session: { sessionId: session.sessionId, stationId: session.stationId, startedAt: session.startedAt, meterStartWh: session.meterStartWh } }
  }

  /** `charge.status`: a roaming session is read at its peer (or from its receipt once stopped). */
  async status(vehicleId: string, sessionId: string): Promise<OpResult<'charge.status'>> {
    const rec = await this.#own(vehicleId, sessionId)
    if (!rec) return this.#d.local.status(vehicleId, sessionId)
    if (rec.receipt) return { session: statusOf(rec.receipt, rec.meterStartWh) }
    if (rec.state === 'failed') {
      const code = rec.failReason !== null && isErrorCode(rec.failReason) ? rec.failReason : 'METER_FAULT'
      throw new VoltwayError(code, `session ${sessionId} at hub ${rec.hubId} ended without a receipt (${rec.failReason ?? 'refused'}); nobody was billed`, { hubId: rec.hubId, reason: rec.failReason })
    }
    const { session } = await this.#d.client.request(rec.hubId, { method: 'GET', path: `${P}/${encodeURIComponent(sessionId)}`, schema: FedSession })
    return { session: { ...session, vehicleId, hubId: rec.hubId } }
  }

  /** `charge.stop`: a roaming session is stopped at its peer; unanswered, the stop is queued (PEER_UNAVAILABLE, `queued: true`). */
  async stop(vehicleId: string, sessionId: string): Promise<OpResult<'charge.stop'>> {
    const rec = await this.#own(vehicleId, sessionId)
    if (!rec) return this.#d.local.stop(vehicleId, sessionId)
    if (rec.receipt) return { receipt: rec.receipt }
    try {
      return { receipt: await this.stopAtPeer(sessionId) }
    } catch (err) {
      if (!(err instanceof VoltwayError) || !retryable(err) || !this.#queue) throw err
      await this.#queue.enqueue(sessionId, rec.stopAttempts + 1)
      throw new VoltwayError(
        'PEER_UNAVAILABLE',
        `hub ${rec.hubId} did not answer the stop of session ${sessionId}; the stop is queued and retried until it answers, and the receipt then appears in history.list`,
        { hubId: rec.hubId, sessionId, queued: true },
      )
    }
  }

  /**
   * One stop of a roaming session at its peer, settling it here: its
   * receipt, or (the peer refused for good, e.g. METER_FAULT) failed.
   * Rejects with the peer's VoltwayError. The StopQueue's try.
   */
  async stopAtPeer(sessionId: string): Promise<Receipt> {
    const rec = await this.#d.store.charging.getRoamingSession(sessionId)
    if (!rec) throw new VoltwayError('NOT_FOUND', `no roaming session ${sessionId}`)
    if (rec.receipt) return rec.receipt
    let receipt: Receipt
    try {
      receipt = await this.#callStop(rec.hubId, sessionId)
    } catch (err) {
      if (err instanceof VoltwayError && !retryable(err)) await this.#d.store.charging.settleRoamingSession(sessionId, { failReason: err.code })
      throw err
    }
    if (receipt.sessionId !== sessionId || receipt.vehicleId !== rec.vehicleId || receipt.hubId !== rec.hubId) {
      throw new VoltwayError('PEER_UNAVAILABLE', `hub ${rec.hubId} answered the stop of ${sessionId} with another session's receipt`, { hubId: rec.hubId })
    }
    await this.#d.store.charging.settleRoamingSession(sessionId, { receipt })
    this.#log.info({ sessionId, hubId: rec.hubId, energyWh: receipt.energyWh, costMinor: receipt.costMinor }, 'roaming session stopped')
    return receipt
  }

  /** The vehicle's receipts at this hub's stations and from its settled roaming sessions. */
  async receipts(vehicleId: string, limit: number): Promise<Receipt[]> {
    const [local, roaming] = await Promise.all([this.#d.local.receipts(vehicleId, limit), this.#d.store.charging.listRoamingReceipts(vehicleId, limit)])
    return [...local, ...roaming]
  }

  async #callStop(hubId: string, sessionId: string): Promise<Receipt> {
    // The same key on every try (here and from the queue): the peer stops and bills once.
    const path = `${P}/${encodeURIComponent(sessionId)}/stop`
    return (await this.#d.client.request(hubId, { method: 'POST', path, body: {}, idempotencyKey: `roam-stop-${sessionId}`, schema: FedReceipt })).receipt
  }

  async #own(vehicleId: string, sessionId: string): Promise<RoamingSessionRecord | null> {
    const rec = await this.#d.store.charging.getRoamingSession(sessionId)
    return rec && rec.vehicleId === vehicleId ? rec : null
  }
}

function statusOf(r: Receipt, meterStartWh: number): OpResult<'charge.status'>['session'] {
  return {
    sessionId: r.sessionId,
    stationId: r.stationId,
    vehicleId: r.vehicleId,
    hubId: r.hubId,
    state: 'stopped',
    startedAt: r.startedAt,
    meterStartWh,
    energyWh: r.energyWh,
    powerW: 0,
    costMinor: r.costMinor,
    currency: r.currency,
  }
}
