/**
 * Roaming, the station's side (the CPO, as in OCPI's Commands module): a
 * peer (the vehicle's home hub, the eMSP) starts, reads and stops sessions at
 * this hub's stations for its own vehicles (docs/protocol.md "Roaming"). This
 * hub trusts the authenticated peer for its vehicles and holds no credential
 * of them; the station's rules (online, busy, bookings) are those of a local
 * start (ChargingService.startFor). A session belongs to the pair (peer,
 * vehicle id), stored as its ownerKey; the peer sees only its own sessions
 * and receipts, each billed at this hub's price from its meter.
 */
import { VoltwayError, type FedReceipt, type FedSession, type FedSessionStart, type FedSessionStarted, type Receipt } from '../../protocol/index.js'
import type { ChargingService } from '../charging/service.js'
import { ownerKey, parseOwnerKey } from '../charging/owner.js'
import type { RoamingParticipant } from '../federation/server.js'
import { effectId } from '../requests/idempotent.js'
import type { Store } from '../store/index.js'

export interface RoamingStationDeps {
  hubId: string
  store: Store
  charging: Pick<ChargingService, 'startFor' | 'status' | 'stop' | 'receipts'>
}

export class RoamingStation implements RoamingParticipant {
  readonly #d: RoamingStationDeps

  constructor(deps: RoamingStationDeps) {
    this.#d = deps
  }

  /**
   * The session's id comes from the call's Idempotency-Key and its owner, as a vehicle's comes from its
   * request id: a run of the key after an earlier run's claim lapsed (this hub's replica died mid-start)
   * answers the session that run started instead of starting a second (ChargingService.startFor).
   */
  async startSession(peer: string, req: FedSessionStart, idempotencyKey: string): Promise<FedSessionStarted> {
    const { vehicleId, ...args } = req
    const owner = { vehicleId, homeHubId: peer }
    const { session } = await this.#d.charging.startFor(owner, args, { sessionId: effectId('s', { vehicleId: ownerKey(owner), requestId: idempotencyKey }) })
    return { session: { ...session, hubId: this.#d.hubId } }
  }

  async session(peer: string, sessionId: string): Promise<FedSession> {
    const key = await this.#ownerOf(peer, sessionId)
    const { session } = await this.#d.charging.status(key, sessionId)
    return { session: { ...session, vehicleId: parseOwnerKey(key).vehicleId } }
  }

  async stopSession(peer: string, sessionId: string): Promise<FedReceipt> {
    const key = await this.#ownerOf(peer, sessionId)
    return { receipt: plain((await this.#d.charging.stop(key, sessionId)).receipt) }
  }

  async receipts(peer: string, vehicleId: string): Promise<Receipt[]> {
    return (await this.#d.charging.receipts(ownerKey({ vehicleId, homeHubId: peer }), 500)).map(plain)
  }

  /** The session's stored owner if it is one of `peer`'s vehicles; NOT_FOUND otherwise (another's session is not revealed). */
  async #ownerOf(peer: string, sessionId: string): Promise<string> {
    const s = await this.#d.store.charging.getSession(sessionId)
    if (!s || parseOwnerKey(s.vehicleId).homeHubId !== peer) throw new VoltwayError('NOT_FOUND', `no session ${sessionId} of your vehicles at hub ${this.#d.hubId}`)
    return s.vehicleId
  }
}

/** The receipt as the home hub knows its vehicle: by its own id. */
function plain(r: Receipt): Receipt {
  return { ...r, vehicleId: parseOwnerKey(r.vehicleId).vehicleId }
}
