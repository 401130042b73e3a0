/**
 * How long a vehicle's request id names one request (docs/protocol.md
 * "Repeated requests"), and what that means for what a request made under
 * its id: the booking, trip or session named after (vehicle, request id)
 * (hub/requests/idempotent.ts `effectId`), which outlives the id's record.
 *
 * The id's record (./idempotency.ts) is swept REQUEST_ID_KEPT_MS after its
 * first use; a run of the request after that is not a repeat but a new use
 * of the id (a vehicle whose id counter restarted). So an effect found under
 * the id that was made more than REQUEST_ID_KEPT_MS ago belongs to an
 * earlier use, and is not this request's answer: IDEMPOTENCY_KEY_REUSED,
 * nothing changed. The same for one made with other args (the id sent again
 * for another request once its record was dropped).
 */
import { VoltwayError, type MutatingOp } from '../../protocol/index.js'

/** How long a request id's record is kept after its first use, ms: 24 h. The federation's sweeper (`retentionMs`) defaults to it. */
export const REQUEST_ID_KEPT_MS = 24 * 3_600_000

/** IDEMPOTENCY_KEY_REUSED for a request `op` whose id names an effect made with other args; it reveals nothing of that effect. */
export function otherArgsRefused(op: MutatingOp): VoltwayError {
  return new VoltwayError('IDEMPOTENCY_KEY_REUSED', `this request id was used for another ${op} (other args); send it with a new id`)
}

/**
 * Throws IDEMPOTENCY_KEY_REUSED (revealing nothing of the effect) when an effect named after a request
 * id, made at `createdAtMs` (epoch ms, as its store recorded it: a reservation's or trip's createdAtMs,
 * a session's startedAtMs), belongs to an earlier use of the id than a request run at `nowMs` (epoch
 * ms, the service's clock): made more than REQUEST_ID_KEPT_MS before it. Otherwise returns.
 */
export function refuseEarlierUse(createdAtMs: number, nowMs: number): void {
  if (nowMs - createdAtMs > REQUEST_ID_KEPT_MS) {
    throw new VoltwayError('IDEMPOTENCY_KEY_REUSED', `this request id was used more than ${REQUEST_ID_KEPT_MS / 3_600_000} hours ago for another request; send it with a new id`)
  }
}
