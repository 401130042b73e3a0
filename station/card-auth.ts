/**
 * Cards at the charger, the agent's side (docs/protocol.md, "Cards at the
 * charger"; OCPP Authorize + local authorization list, EVerest's auth module):
 *
 * - A tap while idle asks the hub (`auth`), waiting up to `timeoutMs`; an
 *   authorized card goes into the local cache until the hub's `expiresAt`,
 *   a CARD_UNKNOWN answer removes it (revoked). No hub, or no answer in time:
 *   the cache decides; a card missing from it or expired is refused with
 *   CARD_UNKNOWN.
 * - An accepted card starts a session with an id the agent makes; its
 *   `session.started` event carries the idTag, and the hub opens the session
 *   for the card's vehicle when it hears it (online now, offline later).
 * - A tap of the card that started the running session stops it.
 * Every refusal is logged with its code. One tap is handled at a time; taps
 * during an authorization are ignored (the driver is still holding the card).
 */
import type { Logger } from 'pino'
import type { Clock } from '../base/clock.js'
import { CardAuthResult, newId, parseJsonObject, parseTime, type CardAuthRequest } from '../protocol/index.js'
import type { CardCache } from './card-cache.js'
import type { ChargingSession } from './session.js'

export type CardDecision =
  | { ok: true; idTag: string; vehicleId: string; source: 'hub' | 'cache'; sessionId: string }
  | { ok: true; idTag: string; stopped: string }
  | { ok: false; idTag: string; code: string; message: string }

export interface CardAuthOptions {
  charger: ChargingSession
  cache: CardCache
  clock: Clock
  log: Logger
  /** How long to wait for the hub's answer, ms. */
  timeoutMs: number
  /** Is the hub reachable now? */
  hubReachable: () => boolean
  /** Publish a request on `auth`; rejects when it cannot be sent. */
  ask: (req: CardAuthRequest) => Promise<void>
  /** Each decision, after it took effect (tests, metrics). */
  onDecision?: (d: CardDecision) => void
}

export class CardAuth {
  readonly #o: CardAuthOptions
  readonly #waiting = new Map<string, (r: CardAuthResult) => void>()
  /** The card that started the running session. */
  #card: { sessionId: string; idTag: string } | undefined
  #busy = false

  constructor(opts: CardAuthOptions) {
    this.#o = opts
  }

  /** A card was tapped. Never rejects. */
  async tap(idTag: string): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const d = await this.#decide(idTag)
      if (d.ok) this.#o.log.info(d, 'stopped' in d ? 'card stopped its session' : 'card accepted; session started')
      else this.#o.log.warn({ idTag, code: d.code }, `card refused: ${d.message}`)
      this.#o.onDecision?.(d)
    } catch (err) {
      this.#o.log.error({ err: String(err), idTag }, 'card tap failed')
    } finally {
      this.#busy = false
    }
  }

  /** An answer arrived on `auth/res`. */
  onAnswer(payload: Buffer): void {
    const json = parseJsonObject(payload)
    const res = json.ok ? CardAuthResult.safeParse(json.value) : undefined
    if (!res?.success) {
      this.#o.log.warn('ignoring an invalid card answer')
      return
    }
    this.#waiting.get(res.data.id)?.(res.data)
  }

  async #decide(idTag: string): Promise<CardDecision> {
    const { charger } = this.#o
    const running = charger.sessionId
    if (running !== null) {
      if (this.#card?.sessionId === running && this.#card.idTag === idTag) {
        await charger.stop(running, 'requested')
        this.#card = undefined
        return { ok: true, idTag, stopped: running }
      }
      return { ok: false, idTag, code: 'STATION_BUSY', message: `session ${running} is running; only the card that started it can stop it` }
    }
    if (charger.status !== 'available') return { ok: false, idTag, code: 'STATION_BUSY', message: `the station is ${charger.status}` }
    const auth = await this.#authorize(idTag)
    if (!auth.ok) return auth
    const sessionId = newId('s')
    await charger.start(sessionId, undefined, idTag)
    this.#card = { sessionId, idTag }
    return { ...auth, sessionId }
  }

  async #authorize(idTag: string): Promise<{ ok: true; idTag: string; vehicleId: string; source: 'hub' | 'cache' } | { ok: false; idTag: string; code: string; message: string }> {
    const { cache, clock } = this.#o
    const answer = this.#o.hubReachable() ? await this.#askHub(idTag) : undefined
    if (answer?.ok && answer.vehicleId !== undefined) {
      if (answer.expiresAt !== undefined) cache.put({ idTag, vehicleId: answer.vehicleId, expiresAt: parseTime(answer.expiresAt) })
      return { ok: true, idTag, vehicleId: answer.vehicleId, source: 'hub' }
    }
    if (answer) {
      const code = answer.error?.code ?? 'CARD_UNKNOWN'
      if (code === 'CARD_UNKNOWN') cache.remove(idTag) // revoked at the hub: stop accepting it offline too
      return { ok: false, idTag, code, message: `the hub refused the card: ${answer.error?.message ?? 'no reason given'}` }
    }
    const cached = cache.get(idTag)
    if (!cached) return { ok: false, idTag, code: 'CARD_UNKNOWN', message: 'the hub is unreachable and the card is not in the local authorization cache' }
    if (cached.expiresAt <= clock.now()) {
      return { ok: false, idTag, code: 'CARD_UNKNOWN', message: `the hub is unreachable and the card's cached authorization expired at ${new Date(cached.expiresAt).toISOString()}` }
    }
    return { ok: true, idTag, vehicleId: cached.vehicleId, source: 'cache' }
  }

  /** The hub's answer, or undefined when it cannot be asked or does not answer in time. */
  async #askHub(idTag: string): Promise<CardAuthResult | undefined> {
    const id = newId('a')
    let cancel = (): void => undefined
    const answered = new Promise<CardAuthResult | undefined>((resolve) => {
      this.#waiting.set(id, resolve)
      cancel = this.#o.clock.setTimer(() => resolve(undefined), this.#o.timeoutMs)
    })
    try {
      await this.#o.ask({ id, idTag })
      const res = await answered
      if (!res) this.#o.log.warn({ idTag, timeoutMs: this.#o.timeoutMs }, 'the hub did not answer the card request in time; asking the local cache')
      return res
    } catch (err) {
      this.#o.log.warn({ err: String(err), idTag }, 'cannot ask the hub about the card; asking the local cache')
      return undefined
    } finally {
      cancel()
      this.#waiting.delete(id)
    }
  }
}
