/**
 * Names a coordinator can compute before anything reaches the wire
 * (docs/federation.md "Hold ids"): the hold id of every hop of every attempt,
 * the reservation id a confirmed hold becomes, and the Idempotency-Key of
 * every step. With them a Cancel can precede its Try, and an undo after a
 * lost answer knows exactly what to delete.
 */
import { createHash } from 'node:crypto'

const digest = (s: string, chars: number): string => createHash('sha256').update(s, 'utf8').digest('base64url').slice(0, chars)

/** `h` + 32 base64url characters (192 bits) of the coordinator's hub, trip, attempt and hop. */
export function holdIdFor(coordinatorHubId: string, tripId: string, attempt: number, hop: number): string {
  return `h${digest(`${coordinatorHubId}\n${tripId}\n${attempt}\n${hop}`, 32)}`
}

/** Hold id for a POST that names none: derived from the calling peer and its Idempotency-Key. */
export function holdIdFromKey(peerHubId: string, idempotencyKey: string): string {
  return `h${digest(`${peerHubId}\n${idempotencyKey}`, 32)}`
}

/** The reservation a hold becomes when confirmed: `r-<holdId>`, or a digest when that would exceed 64 characters. */
export function reservationIdForHold(holdId: string): string {
  return holdId.length <= 62 ? `r-${holdId}` : `r-${digest(holdId, 43)}`
}

export type TripStep = 'hold' | 'confirm' | 'release' | 'unconfirm' | 'cancel'

/** Idempotency-Key of one step of one hop of one attempt: the same on every retry, different for every step. */
export function stepKey(tripId: string, attempt: number, hop: number, step: TripStep): string {
  return `${tripId}.${attempt}.${hop}.${step}`
}
