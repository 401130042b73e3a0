/**
 * Who a charging session is for (docs/protocol.md "Roaming"). A vehicle of
 * this hub is stored by its id; a peer's vehicle charging here is the pair
 * (home hub, vehicle id), stored as `vehicleId@homeHubId`: `@` is never in an
 * id, so a roaming owner can never be taken for a local vehicle of the same
 * id (neither can stop or read the other's sessions).
 */
import type { Booking, Store } from '../store/index.js'

export interface SessionOwner {
  vehicleId: string
  /** The vehicle's home hub when it is a peer's (roaming); null for this hub's own vehicles. */
  homeHubId: string | null
}

/** The owner as stored in the session's `vehicleId`. */
export function ownerKey(o: SessionOwner): string {
  return o.homeHubId === null ? o.vehicleId : `${o.vehicleId}@${o.homeHubId}`
}

/** The inverse of ownerKey. */
export function parseOwnerKey(key: string): SessionOwner {
  const at = key.indexOf('@')
  return at < 0 ? { vehicleId: key, homeHubId: null } : { vehicleId: key.slice(0, at), homeHubId: key.slice(at + 1) }
}

/**
 * Whether a booking (reservation or hold) lets `owner` start: it is held for
 * the owner's vehicle id and, for a roaming owner, it was placed by the
 * owner's home hub (a trip leg its coordinator booked here, per the peer-hold
 * ledger), so a peer's vehicle never uses a local vehicle's booking of the
 * same id, nor another peer's.
 */
export async function bookingOwnedBy(store: Store, b: Pick<Booking, 'kind' | 'id' | 'vehicleId'>, owner: SessionOwner): Promise<boolean> {
  if (b.vehicleId !== owner.vehicleId) return false
  if (owner.homeHubId === null) return true
  const holdId = b.kind === 'hold' ? b.id : ((await store.reservations.getReservation(b.id))?.holdId ?? null)
  if (holdId === null) return false
  return (await store.trips.getPeerHold(holdId))?.peerHubId === owner.homeHubId
}
