/**
 * The decisions of the accounts sub-store (./accounts.ts), as pure functions
 * every implementation calls.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { EnrollmentOutcome } from './accounts.js'

/** A stored enrollment code. */
export interface EnrollmentRow {
  codeDigest: string
  expiresAtMs: number
  usedAtMs: number | null
}

/**
 * Hex SHA-256 of an enrollment code. A fast digest is enough here, unlike for
 * passwords: codes are 128-bit random values, not something a person chose, so
 * there is nothing to guess from a leaked digest.
 */
export function codeDigest(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex')
}

const sameDigest = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))

/**
 * May this code enroll the station now? Another code (or none issued) is
 * `unknown`, whatever state the real one is in, so a caller learns nothing
 * about a code it does not hold; a matching code is `used` once spent and
 * `expired` from `expiresAtMs` on.
 */
export function enrollmentDecision(row: EnrollmentRow | null, digest: string, nowMs: number): EnrollmentOutcome {
  if (row === null || !sameDigest(row.codeDigest, digest)) return 'unknown'
  if (row.usedAtMs !== null) return 'used'
  if (nowMs >= row.expiresAtMs) return 'expired'
  return 'enrolled'
}
