/**
 * One interface for the hubs of a trip: this hub (its HoldService, no
 * network) and each peer (the federation client). The coordinator, the
 * release queue and trip.cancel talk to hops only through it.
 */
import { VoltwayError, type Hold, type HoldConfirmation, type HoldRequest } from '../../protocol/index.js'
import type { FederationClient } from '../federation/client.js'
import type { HoldService } from './holds.js'

export interface Participant {
  readonly hubId: string
  place(req: HoldRequest & { holdId: string }, idempotencyKey: string, timeoutMs: number): Promise<Hold>
  confirm(holdId: string, idempotencyKey: string): Promise<HoldConfirmation>
  release(holdId: string, idempotencyKey: string, timeoutMs?: number): Promise<void>
  cancelReservation(reservationId: string, idempotencyKey: string, timeoutMs?: number): Promise<void>
}

export class Participants {
  readonly #self: Participant
  readonly #client: FederationClient
  readonly #remote = new Map<string, Participant>()

  constructor(selfHubId: string, holds: HoldService, client: FederationClient) {
    this.#client = client
    this.#self = {
      hubId: selfHubId,
      place: (req) => holds.placeOwn(req.holdId, req),
      confirm: (holdId) => holds.confirmOwn(holdId),
      release: (holdId) => holds.releaseOwn(holdId),
      cancelReservation: (reservationId) => holds.cancelOwnReservation(reservationId),
    }
  }

  /** The participant for `hubId`; PEER_UNAVAILABLE when it is neither this hub nor a peer. */
  get(hubId: string): Participant {
    if (hubId === this.#self.hubId) return this.#self
    let p = this.#remote.get(hubId)
    if (!p) {
      if (!this.#client.has(hubId)) throw new VoltwayError('PEER_UNAVAILABLE', `hub ${hubId} is not a peer of this hub`, { hubId })
      const c = this.#client
      p = {
        hubId,
        place: (req, key, timeoutMs) => c.placeHold(hubId, req, key, { timeoutMs }),
        confirm: (holdId, key) => c.confirmHold(hubId, holdId, key),
        release: (holdId, key, timeoutMs) => c.releaseHold(hubId, holdId, key, timeoutMs === undefined ? {} : { timeoutMs }),
        cancelReservation: (id, key, timeoutMs) => c.cancelReservation(hubId, id, key, timeoutMs === undefined ? {} : { timeoutMs }),
      }
      this.#remote.set(hubId, p)
    }
    return p
  }
}
