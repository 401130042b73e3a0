/** The acquire rule of leases (./leases.ts), in one place for every LeaseStore. */

/** A stored lease, as the rule needs it. */
export interface LeaseEntry {
  owner: string
  expiresAtMs: number
}

/** May `owner` take the lease `entry` (null: no such lease) at `nowMs`? Free, expired or its own. */
export function mayAcquire(entry: LeaseEntry | null, owner: string, nowMs: number): boolean {
  return entry === null || entry.owner === owner || entry.expiresAtMs <= nowMs
}
